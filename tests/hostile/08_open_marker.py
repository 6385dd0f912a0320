def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    f = open("/tmp/attndsl-hostile-marker", "w")
    return out
