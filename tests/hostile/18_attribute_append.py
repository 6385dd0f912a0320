def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    tokens.append("x")
    return out
