def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    c = 1
    for i in range(n):
        c *= 2
    for j in range(c):
        out[0, 0] += 1.0
    return out
