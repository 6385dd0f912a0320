def head(tokens, x=exec("open('/tmp/attndsl-hostile-marker', 'w')")):
    n = len(tokens)
    out = zeros(n, n)
    return out
