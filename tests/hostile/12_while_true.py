def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    while True:
        out[0, 0] += 1.0
    return out
