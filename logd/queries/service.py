"""Logs Insights in the daemon: a bounded worker pool running `query.run_query`.

Lifecycle of a query: StartQuery checks the text (a malformed query never gets an id),
resolves its log groups, records it in the history as `Scheduled` and queues it; one of
`max_running` worker threads takes it (`Running`), runs it on the store's events with a
`QueryHandle`, and ends it `Complete`, `Failed`, `Cancelled` (StopQuery: the handle
interrupts DuckDB at once) or `Timeout` (a watcher cancels it after `timeout_ms`; a run
that took longer than that is a `Timeout` even if it finished). Finished rows stay in
memory for `results_ttl_ms` (at most `max_kept_results` queries); the history
(DescribeQueries) and saved definitions live in the catalog (`history.py`).

Threads: the event loop calls the `async` methods; SQLite and DuckDB run in threads.
State shared with workers is guarded by one lock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from logd import errors
from logd.clock import Clock
from logd.model import Scope
from logd.queries import history as h
from logd.queries.definitions import QueryDefinitions
from logd.queries.groups import resolve_source
from logd.queries.options import QueryOptions
from logd.queries.records import get_log_record, log_group_fields
from logd.store.store import Store
from query import (
    EventSource,
    InsightsOptions,
    InsightsQueryError,
    QueryCancelled,
    QueryExecutionError,
    QueryHandle,
    QueryResult,
    parse_query,
    run_query,
)

log = logging.getLogger("logd.queries")

MAX_GROUPS = 50
CANCEL_RETRY_S = 0.1
NOT_FOUND = "The specified log group does not exist."


def malformed(exc: InsightsQueryError) -> errors.MalformedQueryException:
    """MalformedQueryException with CloudWatch's `queryCompileError` member."""
    text = f"line {exc.line}, column {exc.column}: {exc.message}"
    return errors.MalformedQueryException(
        text,
        queryCompileError={
            "location": {"startCharOffset": exc.start, "endCharOffset": exc.end},
            "message": text,
        },
    )


@dataclass(slots=True)
class _Query:
    info: h.QueryInfo
    groups: list[str]
    limit: int | None
    status: str = h.SCHEDULED
    handle: QueryHandle = field(default_factory=QueryHandle)
    result: QueryResult | None = None
    timed_out: bool = False
    finished_mono: float | None = None


@dataclass(frozen=True, slots=True)
class QueryResults:
    """GetQueryResults' view of a query: status, rows (maybe none) and statistics."""

    status: str
    result: QueryResult | None
    statistics: dict[str, float]


class QueryService:
    """StartQuery & co. over a `Store` (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        options: QueryOptions,
        clock: Clock,
        *,
        scope: Scope | None = None,
        history_path: Path | None = None,
        source: Callable[[], EventSource] | None = None,
    ) -> None:
        options.validate()
        self.store = store
        self.options = options
        self.clock = clock
        self.scope = scope or Scope()
        self._history_path = history_path or store.data_dir / "catalog.sqlite"
        self._source = source or store.source
        self._lock = threading.Lock()
        self._queries: dict[str, _Query] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._history: h.QueryHistory | None = None
        self._engine = InsightsOptions(
            threads=options.threads,
            memory_limit_mb=options.memory_limit_mb,
            temp_directory=options.temp_directory or None,
        )

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._history = await asyncio.to_thread(h.QueryHistory, self._history_path)
        lost = await asyncio.to_thread(self._history.abandon_active, "logd restarted")
        if lost:
            log.warning("%d queries were running when logd stopped; marked Failed.", lost)
        self.definitions = QueryDefinitions(
            self._history, self.clock, max_definitions=self.options.max_definitions
        )
        self._pool = ThreadPoolExecutor(self.options.max_running, thread_name_prefix="logd-query")

    async def close(self) -> None:
        """Idempotent: cancel every active query, wait for the workers, close the history."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        with self._lock:
            for q in self._queries.values():
                if q.status in h.ACTIVE:
                    q.handle.cancel()
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        with self._lock:
            dropped = [q for q in self._queries.values() if q.status == h.SCHEDULED]
            for q in dropped:
                q.status = h.CANCELLED
        for q in dropped:
            await asyncio.to_thread(self.history.update_query, q.info.query_id, h.CANCELLED)
        await asyncio.to_thread(self.history.close)
        self._history = None

    async def __aenter__(self) -> QueryService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def history(self) -> h.QueryHistory:
        if self._history is None:
            raise errors.ServiceUnavailableException("The query service is not running.")
        return self._history

    # -- StartQuery --------------------------------------------------------------------
    def resolve_groups(self, identifiers: Sequence[str]) -> list[str]:
        """Log group names from names or ARNs; unknown → ResourceNotFoundException."""
        names: list[str] = []
        for ident in identifiers:
            name = ident
            if ident.startswith("arn:"):
                prefix, sep, rest = ident.partition(":log-group:")
                name = rest.removesuffix(":*")
                if not sep or not name or prefix.split(":")[4:5] != [self.scope.account]:
                    raise errors.ResourceNotFoundException(NOT_FOUND)
            if self.store.catalog.get_group(name) is None:
                raise errors.ResourceNotFoundException(NOT_FOUND)
            if name not in names:
                names.append(name)
        return names

    async def start_query(
        self,
        query_string: str,
        *,
        groups: Sequence[str] | None,
        start_time: int,
        end_time: int,
        limit: int | None = None,
    ) -> str:
        """Check, record and queue a query; returns its id. `*_time` are seconds, inclusive.

        `groups` None: the query must select its groups with `SOURCE`.
        """
        if end_time < start_time:
            raise errors.InvalidParameterException("endTime must be greater than startTime.")
        if limit is not None and not 1 <= limit <= 10_000:
            raise errors.InvalidParameterException("limit must be between 1 and 10000.")
        try:
            parsed = await asyncio.to_thread(parse_query, query_string)
        except InsightsQueryError as exc:
            raise malformed(exc) from None
        if parsed.source is not None:
            if groups:
                raise errors.InvalidParameterException(
                    "A query with SOURCE must not also name log groups."
                )
            names = resolve_source(parsed.source, self.store.catalog.live_groups(), self.scope)
        else:
            if not groups:
                raise errors.InvalidParameterException(
                    "Exactly one of logGroupName, logGroupNames or logGroupIdentifiers "
                    "must be specified."
                )
            if len(groups) > MAX_GROUPS:
                raise errors.InvalidParameterException(
                    f"A query takes at most {MAX_GROUPS} log groups."
                )
            names = self.resolve_groups(groups)
        pool = self._pool
        if pool is None:
            raise errors.ServiceUnavailableException("The query service is not running.")
        with self._lock:
            self._prune()
            active = sum(1 for q in self._queries.values() if q.status in h.ACTIVE)
            if active >= self.options.max_active:
                raise errors.LimitExceededException(
                    f"Too many concurrent queries (at most {self.options.max_active})."
                )
            info = h.QueryInfo(
                0,
                str(uuid.uuid4()),
                query_string,
                tuple(names),
                h.SCHEDULED,
                self.clock.now_ms(),
                start_time * 1000,
                end_time * 1000 + 1000,
            )
            q = _Query(info, names, limit)
            self._queries[info.query_id] = q
        try:
            await asyncio.to_thread(
                self.history.add_query,
                info.query_id,
                query_string,
                names,
                create_time=info.create_time,
                start_ms=info.start_ms,
                end_ms=info.end_ms,
                keep=self.options.history_limit,
            )
        except BaseException:
            with self._lock:
                self._queries.pop(info.query_id, None)
            raise
        pool.submit(self._run, q)
        return info.query_id

    # -- the worker ----------------------------------------------------------------------
    def _run(self, q: _Query) -> None:
        with self._lock:
            if q.status != h.SCHEDULED:
                return
            q.status = h.RUNNING
        self._save(q, h.RUNNING)
        started = self.clock.monotonic()
        done = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(q, done), name="logd-query-watch", daemon=True
        )
        watcher.start()
        result: QueryResult | None = None
        message = ""
        try:
            result = run_query(
                q.info.query_string,
                self._source(),
                groups=q.groups,
                start_ms=q.info.start_ms,
                end_ms=q.info.end_ms,
                limit=q.limit,
                account_id=self.scope.account,
                options=self._engine,
                handle=q.handle,
            )
            status = h.COMPLETE
        except QueryCancelled:
            status = h.TIMEOUT if q.timed_out else h.CANCELLED
        except (InsightsQueryError, QueryExecutionError) as exc:
            status, message = h.FAILED, str(exc)
        except Exception as exc:  # a bug must not kill the worker; the query fails
            log.exception("Query %s failed unexpectedly.", q.info.query_id)
            status, message = h.FAILED, f"internal error: {type(exc).__name__}"
        finally:
            done.set()
            watcher.join()
        elapsed_ms = int((self.clock.monotonic() - started) * 1000)
        if status == h.COMPLETE and elapsed_ms >= self.options.timeout_ms:
            status, result = h.TIMEOUT, None
        with self._lock:
            if q.status == h.CANCELLED:  # StopQuery answered first: it stays cancelled
                status, result = h.CANCELLED, None
            q.status = status
            q.result = result
            q.finished_mono = self.clock.monotonic()
        if message:
            log.info("Query %s failed: %s", q.info.query_id, message)
        stats = result.statistics if result is not None else None
        self._save(
            q,
            status,
            duration_ms=elapsed_ms,
            statistics=(
                (stats.records_matched, stats.records_scanned, stats.bytes_scanned)
                if stats is not None
                else (0.0, 0.0, 0.0)
            ),
            message=message,
        )

    def _watch(self, q: _Query, done: threading.Event) -> None:
        """Cancel the query at its deadline or once StopQuery asked, and cancel again
        every `CANCEL_RETRY_S` until it ends: a cancel that lands between two DuckDB
        statements interrupts nothing, so one call is not enough."""
        deadline = time.monotonic() + self.options.timeout_ms / 1000
        while not done.wait(min(CANCEL_RETRY_S, max(0.0, deadline - time.monotonic()))):
            stopped = q.status == h.CANCELLED
            if not stopped and time.monotonic() >= deadline:
                q.timed_out = True
            if stopped or q.timed_out:
                q.handle.cancel()

    def _save(self, q: _Query, status: str, **kw: object) -> None:
        history = self._history
        if history is None:
            return
        try:
            history.update_query(q.info.query_id, status, **kw)  # type: ignore[arg-type]
        except Exception:  # the catalog is closing or broken; the status is in memory
            log.exception("Could not record the status of query %s.", q.info.query_id)

    def _prune(self) -> None:
        """Drop rows of finished queries past their TTL or beyond the count (under lock)."""
        now = self.clock.monotonic()
        ttl = self.options.results_ttl_ms / 1000
        done = [(q.finished_mono, q) for q in self._queries.values() if q.finished_mono is not None]
        for finished, q in done:
            if now - finished > ttl:
                del self._queries[q.info.query_id]
        done = [(f, q) for f, q in done if q.info.query_id in self._queries]
        for _, q in done[: max(0, len(done) - self.options.max_kept_results)]:
            del self._queries[q.info.query_id]

    # -- GetQueryResults / StopQuery -------------------------------------------------------
    async def get_query_results(self, query_id: str) -> QueryResults:
        with self._lock:
            q = self._queries.get(query_id)
            if q is not None:
                status, result, groups = q.status, q.result, len(q.groups)
        if q is None:
            info = await asyncio.to_thread(self.history.get_query, query_id)
            if info is None:
                raise errors.ResourceNotFoundException(f"Query {query_id} does not exist.")
            stats = {
                "recordsMatched": info.records_matched,
                "recordsScanned": info.records_scanned,
                "bytesScanned": info.bytes_scanned,
            }
            return QueryResults(info.status, None, _statistics(stats, len(info.log_groups), 0))
        if result is None:
            return QueryResults(status, None, _statistics({}, groups, 0))
        wire = result.statistics.to_cloudwatch()
        return QueryResults(status, result, _statistics(wire, groups, len(result.rows)))

    async def stop_query(self, query_id: str) -> bool:
        """True if the query was scheduled or running and is now `Cancelled`."""
        with self._lock:
            q = self._queries.get(query_id)
            active = q is not None and q.status in h.ACTIVE
            if q is not None and active:
                q.status = h.CANCELLED
                q.finished_mono = self.clock.monotonic()
                q.handle.cancel()
        if q is None and await asyncio.to_thread(self.history.get_query, query_id) is None:
            raise errors.ResourceNotFoundException(f"Query {query_id} does not exist.")
        if not active:
            raise errors.InvalidParameterException(f"Query {query_id} is not running.")
        await asyncio.to_thread(self.history.update_query, query_id, h.CANCELLED)
        return True

    # -- DescribeQueries -------------------------------------------------------------------
    async def describe_queries(
        self,
        *,
        group: str | None = None,
        status: str | None = None,
        limit: int = 1000,
        before: int | None = None,
    ) -> list[h.QueryInfo]:
        """Newest first; `before` is the previous page's last ordinal (exclusive)."""
        if group is not None:
            group = self.resolve_groups([group])[0]
        found = await asyncio.to_thread(
            self.history.list_queries, group=group, status=status, before=before, limit=limit
        )
        with self._lock:  # the live status is ahead of the recorded one
            return [
                dataclasses.replace(info, status=self._queries[info.query_id].status)
                if info.query_id in self._queries
                else info
                for info in found
            ]

    # -- GetLogRecord / GetLogGroupFields ----------------------------------------------------
    async def get_log_record(self, ptr: str) -> dict[str, str]:
        return await asyncio.to_thread(get_log_record, self.store, self.scope, ptr)

    async def log_group_fields(
        self, group: str, time_ms: int | None = None
    ) -> list[dict[str, object]]:
        name = self.resolve_groups([group])[0]
        when = self.clock.now_ms() if time_ms is None else time_ms
        return await asyncio.to_thread(log_group_fields, self.store, name, when)


def _statistics(stats: dict[str, float], groups: int, rows: int) -> dict[str, float]:
    return {
        "recordsMatched": float(stats.get("recordsMatched", 0.0)),
        "recordsScanned": float(stats.get("recordsScanned", 0.0)),
        "estimatedRecordsSkipped": 0.0,
        "bytesScanned": float(stats.get("bytesScanned", 0.0)),
        "estimatedBytesSkipped": 0.0,
        "logGroupsScanned": float(groups),
        "resultCount": float(rows),
    }
