def head(tokens):
    """Previous token: every token looks at the one just before it.

    Token 0 has no predecessor; its write is dropped and its row falls back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, i - 1] = 1.0
    return out
