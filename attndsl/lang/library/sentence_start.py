def head(tokens):
    """Sentence start: every token attends to the first token of its sentence."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, sentence_start(i)] = 1.0
    return out
