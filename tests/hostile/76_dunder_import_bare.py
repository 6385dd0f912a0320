def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    x = __import__("os")
    return out
