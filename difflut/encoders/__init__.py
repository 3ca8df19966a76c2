"""Input encoders (registered with :func:`difflut.registry.register_encoder`)."""

__all__: list[str] = []
