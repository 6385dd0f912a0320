def head(tokens):
    """Sink plus induction: half on position 0, half on the token after the last earlier copy.

    Tokens with no earlier copy put all their attention on position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, 0] += 0.5
        j = prev_same(i)
        if j >= 0:
            out[i, j + 1] += 0.5
        else:
            out[i, 0] += 0.5
    return out
