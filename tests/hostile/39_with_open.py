def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    with open("/tmp/attndsl-hostile-marker", "w") as f:
        pass
    return out
