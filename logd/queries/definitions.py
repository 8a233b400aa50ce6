"""Saved query definitions: PutQueryDefinition, DescribeQueryDefinitions, Delete (§7.17).

Put without an id creates one (a new UUID; a repeated `clientToken` returns the first
create's id); with an id it replaces name, text, groups and parameters entirely.
`parameters` name `{{name}}` placeholders in the text; `render` fills them in.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence

import re2

from logd import errors
from logd.clock import Clock
from logd.queries.history import QueryDefinition, QueryHistory, QueryParameter

MAX_PARAMETERS = 20
_PLACEHOLDER = re2.compile(r"\{\{([a-zA-Z_][a-zA-Z0-9_]*)\}\}")


def render(definition: QueryDefinition, values: Mapping[str, str]) -> str:
    """The definition's text with each `{{name}}` replaced by its value or default.

    A placeholder that is neither given nor has a default is InvalidParameterException.
    """
    defaults = {p.name: p.default_value for p in definition.parameters}
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise errors.InvalidParameterException(
            f"Query definition {definition.name!r} has no parameter {', '.join(unknown)}."
        )

    def fill(match: re2.Match) -> str:
        name = match.group(1)
        value = values.get(name, defaults.get(name))
        if value is None:
            raise errors.InvalidParameterException(f"Parameter {name} needs a value.")
        return value

    return str(_PLACEHOLDER.sub(fill, definition.query_string))


class QueryDefinitions:
    """The three operations over `QueryHistory`'s definitions table."""

    def __init__(self, history: QueryHistory, clock: Clock, *, max_definitions: int) -> None:
        self._history = history
        self._clock = clock
        self._max = max_definitions

    async def put(
        self,
        *,
        name: str,
        query_string: str,
        definition_id: str | None = None,
        log_group_names: Sequence[str] = (),
        parameters: Sequence[QueryParameter] = (),
        client_token: str | None = None,
    ) -> str:
        if len(parameters) > MAX_PARAMETERS:
            raise errors.InvalidParameterException(
                f"A query definition takes at most {MAX_PARAMETERS} parameters."
            )
        names = [p.name for p in parameters]
        if len(set(names)) != len(names):
            raise errors.InvalidParameterException("Parameter names must be unique.")
        definition = QueryDefinition(
            definition_id or str(uuid.uuid4()),
            name,
            query_string,
            tuple(log_group_names),
            tuple(parameters),
            self._clock.now_ms(),
        )
        try:
            return await asyncio.to_thread(
                self._history.put_definition,
                definition,
                create=definition_id is None,
                client_token=client_token,
                max_definitions=self._max,
            )
        except KeyError:
            raise errors.ResourceNotFoundException(
                f"Query definition {definition_id} does not exist."
            ) from None
        except OverflowError:
            raise errors.LimitExceededException(
                f"At most {self._max} query definitions can be saved."
            ) from None

    async def describe(
        self, *, prefix: str | None = None, after: tuple[str, str] | None = None, limit: int = 1000
    ) -> list[QueryDefinition]:
        return await asyncio.to_thread(
            self._history.list_definitions, prefix=prefix, after=after, limit=limit
        )

    async def delete(self, definition_id: str) -> None:
        if not await asyncio.to_thread(self._history.delete_definition, definition_id):
            raise errors.ResourceNotFoundException(
                f"Query definition {definition_id} does not exist."
            )
