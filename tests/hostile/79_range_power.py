def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(10 ** 9):
        out[0, 0] += 1.0
    return out
