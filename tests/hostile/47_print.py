def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    print(n)
    return out
