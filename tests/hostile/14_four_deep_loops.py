def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        for j in range(n):
            for k in range(n):
                for m in range(n):
                    out[i, j] += 1.0
    return out
