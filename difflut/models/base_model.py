"""``from difflut.models.base_model import BaseModel``: the import path the model-recipe documents use.

:class:`BaseModel` is defined in :mod:`difflut.models.base`; this module names the same class.
"""

from .base import BaseModel

__all__ = ["BaseModel"]
