def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    system = __import__("os").system
    return out
