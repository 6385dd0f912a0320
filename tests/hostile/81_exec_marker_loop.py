def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, i] = exec("__import__('os').system('touch /tmp/attndsl-hostile-marker')")
    return out
