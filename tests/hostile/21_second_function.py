def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    return out


def helper(tokens):
    return 1
