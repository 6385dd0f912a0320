def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    for i in range(4096):
        for j in range(4096):
            for k in range(4096):
                out[0, 0] += 1.0
    return out
