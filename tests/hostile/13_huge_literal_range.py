def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(1000000000):
        out[0, 0] += 1.0
    return out
