"""Error types of the engine."""


class ModelError(ValueError):
    """An architecture that cannot be built (bad layer settings, shapes that do not fit)."""


class ModelFileError(ModelError):
    """A model file that cannot be trusted or read; the message says what is wrong."""
