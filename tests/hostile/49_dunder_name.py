def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    __builtins__ = 1
    return out
