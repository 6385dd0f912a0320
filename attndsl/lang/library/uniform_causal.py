def head(tokens):
    """Uniform causal: attend evenly to every token at or before the query."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        for j in range(i + 1):
            out[i, j] = 1.0
    return out
