def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    x = __import__("os").system("touch /tmp/attndsl-hostile-marker")
    return out
