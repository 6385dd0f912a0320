def head(tokens):
    """Last newline: attend to the latest whitespace-only token (newline) at or before the query.

    Marks the current line or paragraph; with no newline yet, falls back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        found = False
        for j in range(i, -1, -1):
            if is_space(tokens[j]):
                out[i, j] = 1.0
                found = True
                break
        if not found:
            out[i, 0] = 1.0
    return out
