def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    exec("open('/tmp/attndsl-hostile-marker', 'w')")
    return out
