def head(tokens):
    """Paragraph start: attend to the first token after the latest newline before the query.

    With no newline before the query, the paragraph starts at position 0.
    """
    n = len(tokens)
    out = zeros(n, n)
    for i in range(n):
        start = 0
        for j in range(i - 1, -1, -1):
            if is_space(tokens[j]):
                start = j + 1
                break
        out[i, start] = 1.0
    return out
