def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    f = getattr(tokens, "append")
    return out
