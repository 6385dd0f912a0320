def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    xs = [1, 2, 3]
    return out
