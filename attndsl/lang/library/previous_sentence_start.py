def head(tokens):
    """Previous sentence start: attend to the first token of the sentence before the current one.

    Tokens of the first sentence have no previous sentence and fall back to position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        start = sentence_start(i)
        if start > 0:
            out[i, sentence_start(start - 1)] = 1.0
        else:
            out[i, 0] = 1.0
    return out
