def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    x = "a" * 3
    return out
