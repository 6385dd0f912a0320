def head(tokens):
    """Title\u2028import os"""
    n = len(tokens)
    out = zeros(n, n)
    return out
