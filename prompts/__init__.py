"""Prompt templates and few-shot examples for the LLM synthesiser (`attndsl.prompts`)."""
