def head(tokens):
    n = len(tokens)
    out = zeros(n, n)

    def inner(x):
        return x

    return out
