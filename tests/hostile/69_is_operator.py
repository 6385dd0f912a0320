def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    if tokens is None:
        pass
    return out
