def head(tokens):
    """Same word: every token attends evenly to the tokens of its own word up to itself.

    Sub-word pieces gather the earlier pieces of the word they belong to.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        for j in range(word_start(i), i + 1):
            out[i, j] = 1.0
    return out
