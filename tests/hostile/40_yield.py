def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    yield out
    return out
