def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    b = __builtins__["open"]
    return out
