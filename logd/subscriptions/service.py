"""SubscriptionService: subscription filters as an API resource, each one a Dispatcher.

Owns one `SinkHost` per `[sinks.<name>]` table and one delivery loop per filter:
`Dispatcher` over the store reader `sub:<group id>:<filter>` (created at the log's
head, so delivery starts with events ingested after the put; a replaced filter keeps
its cursor), matching with the compiled filter pattern's `match_batch`.

Filters come from two places: the catalog (PutSubscriptionFilter; table
`subscription_filters`) and the config file (`[[subscriptions.filters]]`). Both appear
in Describe and count toward `max_filters_per_group`; configured ones refuse API
changes. Lifecycle: `start()` starts every filter; `close()` cancels the loops, lets
each deliver its open batches within `drain_timeout_ms`, writes the cursors and closes
the sinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from logd import errors
from logd.clock import Clock
from logd.model import Scope
from logd.store import catalog_subscriptions as table
from logd.store.catalog import SQLiteCatalog
from logd.store.catalog_subscriptions import SubscriptionFilterRecord
from logd.store.regexquota import FilterRef, check_regex_quota, group_filters
from logd.store.store import Store
from logd.subscriptions.boundaries import BatchBoundaries, file_prefix, remove_files
from logd.subscriptions.deadletter import DeadLetterStore
from logd.subscriptions.delivery import Classified, Outcome, PendingBatch
from logd.subscriptions.dispatcher import Dispatcher
from logd.subscriptions.feed import StoreFeed
from logd.subscriptions.listing import describe_record, page_token, token_key
from logd.subscriptions.metrics import register_metrics
from logd.subscriptions.options import SubscriptionOptions
from logd.subscriptions.selection import (
    check_system_fields,
    compile_selection,
    stream_selector,
    system_field_values,
)
from logd.subscriptions.sinkconfig import SinkEntry, build_host, parse_entries, resolve
from logd.subscriptions.sinkhost import SinkHost
from logd.telemetry.metrics import Registry, SubscriptionMetrics
from query import FilterPatternError, compile_filter_pattern
from sinks import Batch

log = logging.getLogger("logd.subscriptions")

LIMIT_EXCEEDED = "Resource limit exceeded."
NOT_FOUND = "The specified subscription filter does not exist."
CONTROL_FAILED = (
    "Could not deliver test message to specified destination. Check if the destination is valid."
)
REFUSING_CLASSES = ("INFREQUENT_ACCESS", "ESSENTIALS", "DELIVERY")


def _uses_regex(pattern: str) -> bool:
    try:
        return compile_filter_pattern(pattern).uses_regex
    except FilterPatternError:
        return False


@dataclass(slots=True)
class _Running:
    record: SubscriptionFilterRecord
    configured: bool
    feed: StoreFeed
    dispatcher: Dispatcher
    boundaries: BatchBoundaries
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SubscriptionFigures:
    """One subscription's delivery figures (metrics are filled from these)."""

    subscription: str
    group: str
    filter: str
    sink: str
    state: str
    delivered_events: int
    delivered_batches: int
    retries_by_class: Mapping[str, int]
    failed_attempts: int
    dead_lettered_events: int
    lag_bytes: int
    lag_seconds: float
    last_error: str


def subscription_name(group: str, filter_name: str) -> str:
    """The subscription's name: in idempotency keys, dead letters and metrics."""
    return f"{group}:{filter_name}"


def cursor_name(group_id: int, filter_name: str) -> str:
    return f"sub:{group_id}:{filter_name}"


class SubscriptionService:
    def __init__(
        self,
        store: Store,
        options: SubscriptionOptions,
        sinks: Mapping[str, Mapping[str, Any]],
        *,
        scope: Scope,
        clock: Clock,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        options.validate()
        self.store = store
        self.options = options
        self.scope = scope
        self.clock = clock
        self.entries: dict[str, SinkEntry] = parse_entries(sinks)
        timeout = options.send_timeout_ms / 1000
        self.hosts: dict[str, SinkHost] = {
            name: build_host(e, owner=scope.account, send_timeout_s=timeout, environ=environ)
            for name, e in self.entries.items()
        }
        self.deadletters = DeadLetterStore(store.data_dir / "dlq")
        self.boundaries_dir = store.data_dir / "subscriptions" / "batches"
        self._running: dict[tuple[str, str], _Running] = {}
        self._lock = asyncio.Lock()  # one put/delete at a time
        self._started = False
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()

    @property
    def _catalog(self) -> SQLiteCatalog:
        catalog = self.store.catalog
        if not isinstance(catalog, SQLiteCatalog):
            raise errors.ServiceUnavailableException("subscription filters need the SQLite catalog")
        return catalog

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        """Start every stored and configured filter (idempotent)."""
        if self._started:
            return
        self._started = True
        for rec in await asyncio.to_thread(table.list_filters, self._catalog):
            self._launch(rec, configured=False)
        for conf in self.options.filters:
            group = self.store.catalog.get_group(conf.log_group_name)
            problem = None
            if group is None:
                problem = "its log group does not exist"
            elif resolve(conf.destination_arn, self.entries, self.scope) is None:
                problem = f"destination {conf.destination_arn!r} names no configured sink"
            else:
                try:
                    compile_filter_pattern(conf.filter_pattern)
                    compile_selection(conf.field_selection_criteria)
                    check_system_fields(conf.emit_system_fields)
                except FilterPatternError as exc:
                    problem = f"its filter pattern is invalid: {exc}"
                except errors.InvalidParameterException as exc:
                    problem = str(exc)
            if problem is not None or group is None:
                log.error(
                    "Configured subscription filter %s of %s is not started: %s.",
                    conf.filter_name,
                    conf.log_group_name,
                    problem,
                )
                continue
            rec = SubscriptionFilterRecord(
                group_id=group.id,
                group=group.name,
                name=conf.filter_name,
                pattern=conf.filter_pattern,
                destination_arn=conf.destination_arn,
                distribution=conf.distribution,
                field_selection_criteria=conf.field_selection_criteria or None,
                emit_system_fields=check_system_fields(conf.emit_system_fields) or None,
                creation_time=group.creation_time,
            )
            self._launch(rec, configured=True)
        in_use = {r.dispatcher.sink_name for r in self._running.values()}
        for sink in sorted(in_use):  # the CONTROL_MESSAGE "once per sink start"
            self._background.add(asyncio.create_task(self._announce(sink)))

    async def _announce(self, sink: str) -> None:
        with contextlib.suppress(errors.InvalidParameterException):
            await self._check_destination(sink)  # a failure is logged; delivery retries

    async def close(self) -> None:
        """Cancel, drain within `drain_timeout_ms`, write cursors, close sinks. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        running = list(self._running.values())
        self._running.clear()
        await asyncio.gather(*(self._stop(r, drain=True) for r in running))
        for host in self.hosts.values():
            await host.close()

    async def __aenter__(self) -> SubscriptionService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _launch(self, rec: SubscriptionFilterRecord, *, configured: bool) -> None:
        sink = resolve(rec.destination_arn, self.entries, self.scope)
        if sink is None:
            log.error(
                "Subscription filter %s of %s names no configured sink (%s); it is not started.",
                rec.name,
                rec.group,
                rec.destination_arn,
            )
            return
        host = self.hosts[sink]
        name = subscription_name(rec.group, rec.name)
        pattern = compile_filter_pattern(rec.pattern)
        try:
            selection = compile_selection(rec.field_selection_criteria)
        except errors.InvalidParameterException as exc:  # a row stored by an older logd
            log.error("Subscription filter %s of %s is not started: %s", rec.name, rec.group, exc)
            return
        select = stream_selector(selection, self.scope)
        cursor = cursor_name(rec.group_id, rec.name)
        feed = StoreFeed(self.store.reader(cursor), rec.group_id, select)
        # What decides the batches' contents: a change of either starts fresh boundaries.
        criteria = rec.field_selection_criteria
        selects = f"{rec.pattern}\n{criteria}" if criteria else rec.pattern
        boundaries = BatchBoundaries(self.boundaries_dir, cursor, selects)
        distribution: Any = rec.distribution
        extra = system_field_values(rec.emit_system_fields or (), self.scope, rec.group)

        async def send(pending: PendingBatch, attempt: int) -> Classified:
            batch = host.to_batch(pending, attempt, rec.name, distribution, extra)
            return await host.send(batch)

        dispatcher = Dispatcher(
            name=name,
            group=rec.group,
            sink_name=sink,
            feed=feed,
            matcher=pattern.match_batch,
            send=send,
            deadletters=self.deadletters,
            options=self.options,
            clock=self.clock,
            boundaries=boundaries,
        )
        run = _Running(rec, configured, feed, dispatcher, boundaries)
        run.tasks = [asyncio.create_task(dispatcher.run(), name=f"logd-sub-{name}")]
        self._running[(rec.group, rec.name)] = run

    def _live(self, run: _Running) -> bool:
        """False once the filter's log group was deleted (its catalog row went with it)."""
        group = self.store.catalog.get_group(run.record.group)
        return group is not None and group.id == run.record.group_id

    async def _prune(self) -> None:
        """Stop the filters of deleted groups and drop their cursors."""
        for key, run in list(self._running.items()):
            if not self._live(run):
                self._running.pop(key)
                await self._stop(run, drain=False)
                name = cursor_name(run.record.group_id, run.record.name)
                self.store.drop_reader(name)
                remove_files(self.boundaries_dir, file_prefix(name))

    async def _stop(self, run: _Running, *, drain: bool) -> None:
        if drain:  # let in-flight batches finish, then deliver the rest, within the timeout
            run.dispatcher.stop()
            try:
                async with asyncio.timeout(self.options.drain_timeout_ms / 1000):
                    await asyncio.wait(run.tasks)
                    await run.dispatcher.drain()
            except TimeoutError:
                log.warning(
                    "Subscription %s: open batches were not delivered within the drain "
                    "timeout; they are sent again after the restart.",
                    run.dispatcher.name,
                )
        for task in run.tasks:
            task.cancel()
        for task in run.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        run.boundaries.close()
        await run.feed.flush()
        run.feed.reader.close()

    def configured_filters(self, group: str) -> list[FilterRef]:
        """The group's filters declared in the configuration file (not in the catalog)."""
        return [
            ("subscription", run.record.name, run.record.pattern)
            for (g, _), run in self._running.items()
            if g == group and run.configured
        ]

    # -- the API -----------------------------------------------------------------
    async def put_subscription_filter(
        self,
        *,
        group: str,
        name: str,
        pattern: str,
        destination_arn: str,
        role_arn: str | None = None,
        distribution: str | None = None,
        apply_on_transformed_logs: bool = False,
        field_selection_criteria: str | None = None,
        emit_system_fields: list[str] | None = None,
    ) -> None:
        g = self.store.catalog.require_group(group)
        if g.log_group_class in REFUSING_CLASSES:
            raise errors.InvalidParameterException(
                f"Subscription filters are not supported for log groups of class "
                f"{g.log_group_class}."
            )
        try:
            compile_filter_pattern(pattern)
        except FilterPatternError as exc:
            raise errors.InvalidParameterException(f"Invalid filter pattern: {exc}") from exc
        compile_selection(field_selection_criteria)  # InvalidParameterException if bad
        emitted = check_system_fields(emit_system_fields)
        if distribution is not None and distribution not in ("ByLogStream", "Random"):
            raise errors.InvalidParameterException(
                "distribution must be one of ByLogStream, Random."
            )
        sink = resolve(destination_arn, self.entries, self.scope)
        if sink is None:
            raise errors.InvalidParameterException(
                f"The destination {destination_arn} is not a configured sink of this logd "
                "(arn:logd:sink:<region>:<account>:<sink>, a sink name or a sink alias)."
            )
        async with self._lock:
            await self._prune()
            existing = self._running.get((group, name))
            if existing is not None and existing.configured:
                raise errors.InvalidParameterException(
                    f"Subscription filter {name} is declared in the configuration file and "
                    "cannot be changed through the API."
                )
            if existing is None:
                count = sum(1 for (gname, _) in self._running if gname == group)
                if count >= self.options.max_filters_per_group:
                    raise errors.LimitExceededException(LIMIT_EXCEEDED)
            # From the quota check to the catalog row: no metric filter put in between.
            async with self.store.filter_puts:
                if _uses_regex(pattern):  # five per group, metric filters included
                    filters = await asyncio.to_thread(group_filters, self._catalog, group)
                    filters += self.configured_filters(group)
                    check_regex_quota(filters, "subscription", name, pattern, _uses_regex)
                await self._check_destination(sink)
                rec = SubscriptionFilterRecord(
                    group_id=g.id,
                    group=group,
                    name=name,
                    pattern=pattern,
                    destination_arn=destination_arn,
                    role_arn=role_arn,
                    distribution=distribution or "ByLogStream",
                    apply_on_transformed_logs=apply_on_transformed_logs,
                    field_selection_criteria=field_selection_criteria,
                    emit_system_fields=emitted,
                    creation_time=self.clock.now_ms(),
                )
                if existing is not None:  # replaced: same cursor, new everything else
                    self._running.pop((group, name))
                    await self._stop(existing, drain=False)
                else:  # the cursor starts at the log's head before the row commits
                    self.store.reader(cursor_name(g.id, name)).close()
                try:
                    rec = await asyncio.to_thread(table.put_filter, self._catalog, rec)
                except BaseException:
                    if existing is None:
                        self.store.drop_reader(cursor_name(g.id, name))
                    raise
            if self._started and not self._closed:
                self._launch(rec, configured=False)

    async def _check_destination(self, sink: str) -> None:
        entry, host = self.entries[sink], self.hosts[sink]
        rendering = getattr(host.sink.options, "rendering", "ndjson")
        if not entry.validate_on_put or rendering != "cloudwatch":
            return
        result = await host.send(Batch.control(entry.type, self.clock.now_ms()))
        if result.outcome != Outcome.OK:
            log.warning(
                "Destination check of sink %s failed: %s", sink, result.reason or result.outcome
            )
            raise errors.InvalidParameterException(CONTROL_FAILED)

    def describe_subscription_filters(
        self,
        *,
        group: str,
        prefix: str | None = None,
        limit: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        self.store.catalog.require_group(group)
        limit = 50 if limit is None else limit
        if not 1 <= limit <= 50:
            raise errors.InvalidParameterException("limit must be between 1 and 50.")
        after = None
        if next_token is not None:
            after = token_key(next_token)
        names = sorted(
            n
            for (g, n), run in self._running.items()
            if g == group
            and self._live(run)
            and (prefix is None or n.startswith(prefix))
            and (after is None or n > after)
        )
        page = names[:limit]
        token = None
        if len(names) > limit:
            token = page_token(page[-1])
        return [describe_record(self._running[(group, n)].record) for n in page], token

    async def delete_subscription_filter(self, *, group: str, name: str) -> None:
        g = self.store.catalog.get_group(group)
        async with self._lock:
            await self._prune()
            run = self._running.get((group, name))
            if g is None or run is None:
                raise errors.ResourceNotFoundException(NOT_FOUND)
            if run.configured:
                raise errors.InvalidParameterException(
                    f"Subscription filter {name} is declared in the configuration file and "
                    "cannot be deleted through the API."
                )
            self._running.pop((group, name))
            await self._stop(run, drain=False)
            await asyncio.to_thread(table.delete_filter, self._catalog, g.id, name)
            self.store.drop_reader(cursor_name(g.id, name))
            remove_files(self.boundaries_dir, file_prefix(cursor_name(g.id, name)))

    # -- figures -----------------------------------------------------------------
    def register_metrics(self, metrics: SubscriptionMetrics, registry: Registry) -> None:
        """Fill the subscription metric families from `figures()` on each collect."""
        register_metrics(self, metrics, registry)

    def figures(self) -> list[SubscriptionFigures]:
        lags = self.store.log.stats().cursor_lag_bytes
        now = self.clock.now_ms()
        out = []
        for (group, fname), run in sorted(self._running.items()):
            if not self._live(run):
                continue
            stats = run.dispatcher.stats
            lag_bytes = lags.get(cursor_name(run.record.group_id, fname), 0)
            oldest = run.feed.oldest_unacked_ingestion()
            out.append(
                SubscriptionFigures(
                    subscription=run.dispatcher.name,
                    group=group,
                    filter=fname,
                    sink=run.dispatcher.sink_name,
                    state=stats.state,
                    delivered_events=stats.delivered_events,
                    delivered_batches=stats.delivered_batches,
                    retries_by_class=dict(stats.retries_by_class),
                    failed_attempts=stats.failed_attempts,
                    dead_lettered_events=stats.dead_lettered_events,
                    lag_bytes=lag_bytes,
                    lag_seconds=0.0 if oldest is None else max(now - oldest, 0) / 1000,
                    last_error=stats.last_error,
                )
            )
        return out
