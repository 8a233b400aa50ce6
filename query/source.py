"""EventSource: the query engines' only way to events (STYLE.md "The query seam")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import duckdb


class EventSource(Protocol):
    def bind(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        groups: Sequence[str],
        start_ms: int,
        end_ms: int,
    ) -> str:
        """Expose the groups' events in [start_ms, end_ms) on con; return a relation name."""
        ...
