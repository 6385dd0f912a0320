def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    x = 2 ** 10
    return out
