def head(tokens):
    """Previous word start: every token attends to the first token of the word before its own.

    Tokens of the first word have no previous word and fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        start = word_start(i)
        if start > 0:
            out[i, word_start(start - 1)] = 1.0
        else:
            out[i, 0] = 1.0
    return out
