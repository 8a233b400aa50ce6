"""A QueryHandle stops a running query from another thread."""

from __future__ import annotations

import threading
import time

import pytest

from query import QueryCancelled, QueryHandle, run_query
from tests.query.insights.support import RangeSource

SLOW = r"filter @message like /a+9+8+7$/ | stats count(*) as n by strlen(@message) % 7"


def test_cancel_stops_a_running_query() -> None:
    handle = QueryHandle()
    outcome: list[BaseException | str] = []
    started = threading.Event()

    class Watched(RangeSource):
        def bind(self, con, **kwargs):  # type: ignore[no-untyped-def]
            name = super().bind(con, **kwargs)
            started.set()
            return name

    def work() -> None:
        try:
            run_query(
                SLOW, Watched(3_000_000_000), groups=[], start_ms=0, end_ms=2**62, handle=handle
            )
            outcome.append("finished")
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(60)
    time.sleep(0.5)  # let the scan get going; cancelling earlier is covered too
    handle.cancel()
    worker.join(120)
    assert not worker.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], QueryCancelled)
    assert handle.cancelled


def test_a_handle_cancelled_before_the_start_never_runs() -> None:
    handle = QueryHandle()
    handle.cancel()
    with pytest.raises(QueryCancelled):
        run_query("stats count(*)", RangeSource(10), groups=[], start_ms=0, end_ms=1, handle=handle)
