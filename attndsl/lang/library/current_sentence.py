def head(tokens):
    """Current sentence: every token attends evenly to its sentence so far, itself included."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        for j in range(sentence_start(i), i + 1):
            out[i, j] = 1.0
    return out
