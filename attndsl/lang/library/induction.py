def head(tokens):
    """Induction: look at the token that followed the last earlier copy of this token.

    In "A B ... A" the second A attends to B, so the model can predict B comes next.
    Tokens with no earlier copy fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        j = prev_same(i)
        if j >= 0:
            out[i, j + 1] = 1.0
        else:
            out[i, 0] = 1.0
    return out
