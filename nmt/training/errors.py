"""A training run that cannot go on (as opposed to a mistake in its configuration or data): one line to the user."""


class TrainingError(Exception):
    pass
