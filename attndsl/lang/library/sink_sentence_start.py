def head(tokens):
    """Sink plus sentence start: half on position 0, half on the first token of the sentence."""
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        out[i, 0] += 0.5
        out[i, sentence_start(i)] += 0.5
    return out
