def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    x = n & 1
    return out
