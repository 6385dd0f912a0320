def head(tokens):
    """First-token sink: every token puts all its attention on position 0.

    The most common "resting" pattern: heads with nothing to do park their mass
    on the first token.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, 0] = 1.0
    return out
