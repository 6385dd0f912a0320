def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    try:
        out[0, 0] = 1.0
    except Exception:
        pass
    return out
