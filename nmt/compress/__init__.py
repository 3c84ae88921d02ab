"""Smaller models to serve, written as run directories that every command reads: structured pruning
(`nmt.compress.prune`), low-rank factors and int8 weights (`nmt.compress.factor`; the forms the model declares are in
`nmt.model.matrices`), and sequence-level knowledge distillation (`nmt.compress.distill`). `python -m nmt.compress`
and `python -m nmt.distill` are the commands."""
