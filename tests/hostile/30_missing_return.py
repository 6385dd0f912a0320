def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    out[0, 0] = 1.0
