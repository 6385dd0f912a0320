def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    d = {"a": 1}
    return out
