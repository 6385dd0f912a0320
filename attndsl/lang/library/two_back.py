def head(tokens):
    """Two back: every token looks at the token two positions before it.

    The first two tokens have no such token and fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        if i >= 2:
            out[i, i - 2] = 1.0
        else:
            out[i, 0] = 1.0
    return out
