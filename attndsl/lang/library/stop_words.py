def head(tokens):
    """Stop words: attend evenly to every stop word (the, a, of, ...) at or before the query.

    With no stop word yet, falls back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        found = False
        for j in range(i + 1):
            if is_stop(tokens[j]):
                out[i, j] = 1.0
                found = True
        if not found:
            out[i, 0] = 1.0
    return out
