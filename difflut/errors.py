"""Exception types raised by DiffLUT for bad input and bad state."""


class DiffLUTError(Exception):
    """Base class of DiffLUT's own errors."""


class NotFittedError(DiffLUTError, RuntimeError):
    """An encoder (or a model's encoder) was used before ``fit``."""


class InputError(DiffLUTError, ValueError):
    """An input tensor has the wrong shape, dtype or values (NaN, inf, non-binary in eval)."""


class IRError(DiffLUTError, ValueError):
    """A netlist IR (in memory or in a file) is malformed; the message names the field and the problem."""
