"""Plain values: what a checkpoint (``torch.load(weights_only=True)``) and JSON both hold."""

from __future__ import annotations


def to_plain(value, where: str):
    """``value`` with tuples turned into lists, recursively.

    Raises ``TypeError`` naming ``where`` (e.g. ``"overrides.node_kwargs"``) unless ``value`` holds
    only None, bool, int, float, str, lists, tuples and dicts with str keys.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_plain(v, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: dict keys must be str")
        return {k: to_plain(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(f"{where} may hold only None, bool, int, float, str, list and dict, got {type(value).__name__}")
