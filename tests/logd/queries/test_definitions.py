"""Saved query definitions on a real store: create, idempotent create, replace, list, delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from logd import errors
from logd.clock import ManualClock
from logd.queries import QueryOptions, QueryService
from logd.queries.definitions import render
from logd.queries.history import QueryParameter
from tests.logd.queries.support import NOW, open_store

TOKEN = "t" * 36


async def test_definition_lifecycle_survives_restart(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    store = await open_store(tmp_path, clock)
    try:
        async with QueryService(store, QueryOptions(max_definitions=3), clock) as svc:
            d = svc.definitions
            first = await d.put(name="errors/by-host", query_string="filter level = 'ERROR'")
            again = await d.put(name="x", query_string="fields a", client_token=TOKEN)
            assert await d.put(name="y", query_string="fields b", client_token=TOKEN) == again
            clock.advance(5)
            assert (
                await d.put(
                    name="errors/latest",
                    query_string="filter level = '{{level}}' | limit {{n}}",
                    definition_id=again,
                    log_group_names=["app"],
                    parameters=[
                        QueryParameter("level", "ERROR", "which level"),
                        QueryParameter("n"),
                    ],
                )
                == again
            )
            third = await d.put(name="other", query_string="fields c")
            with pytest.raises(errors.LimitExceededException):
                await d.put(name="fourth", query_string="fields d")
            with pytest.raises(errors.ResourceNotFoundException):
                await d.put(name="n", query_string="fields a", definition_id="missing")
            listed = await d.describe(prefix="errors/")
            assert [x.name for x in listed] == ["errors/by-host", "errors/latest"]
            page = await d.describe(limit=1)
            rest = await d.describe(after=(page[0].name, page[0].id))
            assert [x.id for x in page + rest] == [first, again, third]  # by name
            replaced = listed[1]
            assert replaced.to_wire()["lastModified"] == NOW + 5
            assert replaced.to_wire()["parameters"] == [
                {"name": "level", "defaultValue": "ERROR", "description": "which level"},
                {"name": "n"},
            ]
            assert render(replaced, {"n": "5"}) == "filter level = 'ERROR' | limit 5"
            assert (
                render(replaced, {"n": "1", "level": "INFO"}) == "filter level = 'INFO' | limit 1"
            )
            with pytest.raises(errors.InvalidParameterException):
                render(replaced, {})
            with pytest.raises(errors.InvalidParameterException):
                render(replaced, {"n": "1", "bogus": "2"})
            await d.delete(third)
            with pytest.raises(errors.ResourceNotFoundException):
                await d.delete(third)
    finally:
        await store.close()
    store = await open_store(tmp_path, clock)
    try:
        async with QueryService(store, QueryOptions(), clock) as svc:
            assert [x.id for x in await svc.definitions.describe()] == [first, again]
    finally:
        await store.close()
