def head(tokens: list) -> list:
    n = len(tokens)
    out = zeros(n, n)
    return out
