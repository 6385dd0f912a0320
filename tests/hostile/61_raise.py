def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    raise ValueError("x")
    return out
