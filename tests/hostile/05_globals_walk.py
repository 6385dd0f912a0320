def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    g = head.__globals__
    return out
