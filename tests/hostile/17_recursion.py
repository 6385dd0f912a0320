def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    x = head(tokens)
    return out
