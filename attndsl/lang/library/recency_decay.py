def head(tokens):
    """Recency decay: attention falls off exponentially with distance, exp(-0.5 * (i - j)).

    A soft, position-only head: nearby tokens matter most, distant ones a little.
    """
    n = len(tokens)
    out = zeros(n, n)
    rate = 0.5
    for i in range(n):
        for j in range(i + 1):
            out[i, j] = exp(-rate * (i - j))
    return out
