def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    f = lambda x: x
    return out
