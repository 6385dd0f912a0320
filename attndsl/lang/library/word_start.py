def head(tokens):
    """Word start: every token attends to the first token of the word it belongs to."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, word_start(i)] = 1.0
    return out
