def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    return оut
