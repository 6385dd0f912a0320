def head(tokens):
    """Capitalised tokens: attend evenly to every earlier token that starts with a capital letter.

    Tracks names and sentence openers; with none before the query, falls back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        found = False
        for j in range(i):
            if is_upper(tokens[j]):
                out[i, j] = 1.0
                found = True
        if not found:
            out[i, 0] = 1.0
    return out
