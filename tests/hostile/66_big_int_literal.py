def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    x = 100000000000000000000000000000
    return out
