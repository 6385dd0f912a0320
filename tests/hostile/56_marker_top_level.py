open("/tmp/attndsl-hostile-marker", "w").write("ran")


def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    return out
