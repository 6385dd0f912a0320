def head(tokens):
    """Self: every token attends only to itself (the diagonal)."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, i] = 1.0
    return out
