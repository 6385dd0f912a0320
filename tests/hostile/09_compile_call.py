def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    c = compile("1", "x", "eval")
    return out
