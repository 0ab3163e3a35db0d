"""The security and integrity probe (issue 11): ``python -m soak [--short] [--area NAME ...]``.

See ``soak/README.md`` for the areas and how to read the figures.
"""
