def head(tokens):
    n = len(tokens)
    x = "ÿş€"
    out = zeros(n, n)
    return out
