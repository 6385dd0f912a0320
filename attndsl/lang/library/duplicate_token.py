def head(tokens):
    """Duplicate token: every token attends to all earlier copies of itself.

    Tokens seen for the first time have no copy and fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        for j in range(i):
            if tokens[j] == tokens[i]:
                out[i, j] = 1.0
        if prev_same(i) < 0:
            out[i, 0] = 1.0
    return out
