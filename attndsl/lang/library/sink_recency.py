def head(tokens):
    """Sink plus recency: 30% on position 0, the rest decays with distance, exp(-0.5 * (i - j))."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        total = 0.0
        for j in range(i + 1):
            total += exp(-0.5 * (i - j))
        out[i, 0] += 0.3
        for j in range(i + 1):
            out[i, j] += 0.7 * exp(-0.5 * (i - j)) / total
    return out
