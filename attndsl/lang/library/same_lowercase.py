def head(tokens):
    """Same lowercased token: attend to all earlier tokens equal to this one ignoring case.

    "The" and "the" count as copies; tokens with no such copy fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        found = False
        for j in range(i):
            if lower(tokens[j]) == lower(tokens[i]):
                out[i, j] = 1.0
                found = True
        if not found:
            out[i, 0] = 1.0
    return out
