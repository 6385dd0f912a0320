"""The compiler: lowering of checked programs and the Numba and torch backends.

Continues the front end's passes (parse → check → canonicalise, see `attndsl._program`)
with lower → emit. Installed as `attndsl.compiler`.
"""
