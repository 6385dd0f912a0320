def head(tokens):
    """First occurrence: attend to the first earlier copy of the current token.

    Tokens seen for the first time fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        found = False
        for j in range(i):
            if tokens[j] == tokens[i]:
                out[i, j] = 1.0
                found = True
                break
        if not found:
            out[i, 0] = 1.0
    return out
