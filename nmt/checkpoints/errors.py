"""A checkpoint that cannot be written or read as asked: one line to the user."""


class CheckpointError(Exception):
    pass
