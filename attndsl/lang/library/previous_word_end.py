def head(tokens):
    """Previous word end: every token attends to the last token of the word before its own.

    Tokens of the first word have no previous word and fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        start = word_start(i)
        if start > 0:
            out[i, start - 1] = 1.0
        else:
            out[i, 0] = 1.0
    return out
