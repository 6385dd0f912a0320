def head(tokens):
    "x\rimport os;os.system('touch /tmp/attndsl-hostile-marker')"
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, i] = 1.0
    return out
