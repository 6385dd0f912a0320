def head(tokens):
    """All punctuation: attend evenly to every punctuation mark at or before the query.

    Tokens with no punctuation before them fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        found = False
        for j in range(i + 1):
            if is_punct(tokens[j]):
                out[i, j] = 1.0
                found = True
        if not found:
            out[i, 0] = 1.0
    return out
