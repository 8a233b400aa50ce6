"""The sink plugin author's whole API."""

__all__: list[str] = []
