import subprocess

subprocess.run(["touch", "/tmp/attndsl-hostile-marker"])


def head(tokens):
    n = len(tokens)
    out = zeros(n, n)
    return out
