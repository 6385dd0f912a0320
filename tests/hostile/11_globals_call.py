def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    g = globals()
    return out
