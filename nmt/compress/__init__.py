"""Smaller models to serve, written as run directories that every command reads: structured pruning so far
(`nmt.compress.prune`); `python -m nmt.compress` is the command."""
