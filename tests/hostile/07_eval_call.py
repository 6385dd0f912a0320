def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    x = eval("1 + 1")
    return out
