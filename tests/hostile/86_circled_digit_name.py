def ①(tokens):
    n = len(tokens)
    out = zeros(n, n)
    return out
