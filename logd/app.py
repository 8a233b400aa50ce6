"""The composition root: builds every object of the daemon, owns its lifecycle.

Start: logging → store (WAL recovered, catalog open) → tail agent (`[[tail]]`, resumed
from the store's checkpoints) → export service (tasks recovered, worker started) → query
service (pool started) → API listener bound → READY=1.
SIGHUP: RELOADING=1, the config file is read and validated again; invalid → every
problem is logged and the old settings stay; valid → reloadable keys are applied
(access keys, log level) and the others are logged as needing a
restart; then READY=1. SIGTERM/SIGINT: STOPPING=1, the listener stops accepting,
in-flight requests finish (bounded by ``daemon.shutdown_timeout_ms``), the export
worker stops between objects, the tail agent stops, the store flushes and closes; a
second signal exits at once. WATCHDOG=1 is sent from the event loop every
WATCHDOG_USEC/2, so a stalled loop is noticed by systemd.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs installed

from logd import __version__, errors
from logd.api.auth import Authenticator, resolve_secrets
from logd.api.ops.base import OpContext
from logd.api.ops.registry import build_registry
from logd.api.options import parse_listen
from logd.api.server import ApiServer
from logd.api.start_live_tail import StartLiveTail
from logd.api.tail import TailEndpoint
from logd.api.validation import Validator
from logd.clock import Clock, SystemClock
from logd.export.destinations import Destinations
from logd.export.taskdb import TaskDb
from logd.export.tasks import ExportService
from logd.filterevents import PageDatabase
from logd.metricfilters import MetricFilterService
from logd.model import Scope
from logd.queries import QueryService
from logd.settings import Settings, SettingsError, changed_keys, load, self_tailing
from logd.store.stats import bind_metrics as bind_store_metrics
from logd.store.store import Store
from logd.subscriptions.livetail import LiveTail
from logd.subscriptions.service import SubscriptionService
from logd.systemd import Notifier
from logd.tail.store_sink import bind_metrics, tail_into_store
from logd.telemetry import logs
from logd.telemetry.logs import fields
from logd.telemetry.metrics import DaemonMetrics
from logd.threads import tune_interpreter

log = logging.getLogger("logd.app")


class StartupError(Exception):
    """The daemon cannot start (bad secrets, unbindable address, locked data dir)."""


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        config_path: Path | None = None,
        overrides: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.overrides = dict(overrides or {})
        self.env = dict(env if env is not None else os.environ)
        self.clock = clock or SystemClock()
        self.notifier = Notifier.from_env(self.env, os.getpid())
        self.metrics = DaemonMetrics()
        self.ready = False
        self._stop = asyncio.Event()
        self._forced = False
        self._started = self.clock.monotonic()
        self._authenticator: Authenticator | None = None

    def _readiness(self) -> tuple[bool, str]:
        return (True, "") if self.ready else (False, "starting or stopping")

    def _collect_process(self) -> None:
        process = psutil.Process()
        self.metrics.process_rss_bytes.set(process.memory_info().rss)
        self.metrics.process_open_fds.set(process.num_fds())
        self.metrics.process_uptime_seconds.set(self.clock.monotonic() - self._started)

    def _authenticator_for(self, settings: Settings) -> Authenticator:
        credentials, missing = resolve_secrets(settings.api.keys, self.env)
        if settings.api.auth == "sigv4" and missing:
            raise StartupError("; ".join(f"{path}: {message}" for path, message in missing))
        return Authenticator(
            settings.api.auth, credentials, max_skew_ms=settings.api.signature_max_skew_ms
        )

    async def run(self) -> int:
        s = self.settings
        logs.configure(s.telemetry.log_level, s.telemetry.log_format)
        self.metrics.build_info.set(1, version=__version__)
        self.metrics.registry.on_collect(self._collect_process)
        loop = asyncio.get_running_loop()
        self._authenticator = self._authenticator_for(s)
        host, port = parse_listen(s.api.listen)
        if s.api.auth == "none":
            log.warning(
                "Authentication is off: every local client may read and write all data.",
                extra=fields(listen=s.api.listen),
            )
        for warning in self_tailing(s):
            log.warning(
                "A tail glob matches the data directory.",
                extra=fields(key=warning.path, detail=warning.message),
            )
        data_dir = Path(s.daemon.data_dir)
        scope = Scope(s.api.partition, s.api.region, s.api.account_id)
        async with contextlib.AsyncExitStack() as stack:  # closes in reverse order
            store = await Store.open(data_dir, s.store, self.clock)
            bind_store_metrics(store, self.metrics)
            stack.push_async_callback(store.close)
            metric_filters = MetricFilterService(store, self.metrics.registry, self.clock)
            loaded = await asyncio.to_thread(metric_filters.load)
            store.add_append_observer(metric_filters.on_append)
            if loaded:
                log.info("Metric filters loaded.", extra=fields(count=loaded))
            self._start_tail(store, stack)  # stopped before the store closes
            task_db = await asyncio.to_thread(TaskDb, data_dir / "export-tasks.sqlite")
            stack.push_async_callback(asyncio.to_thread, task_db.close)
            export = ExportService(
                options=s.export,
                tasks=task_db,
                reader=store.scan,
                destinations=Destinations(s.export),
                clock=self.clock,
                group_exists=lambda name: store.catalog.get_group(name) is not None,
                scope=scope,
                history_clock=store.retention_clock,
            )
            stack.push_async_callback(export.close)
            await export.start()
            queries = QueryService(store, s.queries, self.clock, scope=scope)
            await queries.start()
            stack.push_async_callback(queries.close)
            try:
                subscriptions = SubscriptionService(
                    store, s.subscriptions, s.sinks, scope=scope, clock=self.clock, environ=self.env
                )
            except ValueError as exc:  # a sink table settings could not check (plugin)
                raise StartupError(str(exc)) from exc
            stack.push_async_callback(subscriptions.close)
            await subscriptions.start()
            metric_filters.configured_filters = subscriptions.configured_filters
            subscriptions.register_metrics(self.metrics.subscriptions, self.metrics.registry)
            livetail = LiveTail(store, s.subscriptions)
            livetail.start()
            stack.push_async_callback(livetail.close)
            tail = TailEndpoint(livetail, self._authenticator, self.clock, scope)
            live_sessions = StartLiveTail(livetail, s.subscriptions, self.clock)
            validator = Validator()
            filter_database = PageDatabase()
            stack.callback(filter_database.close)
            server = ApiServer(
                operations=build_registry(),
                context=OpContext(
                    store,
                    self.clock,
                    scope,
                    self.metrics,
                    validator,
                    export,
                    metric_filters=metric_filters,
                    queries=queries,
                    subscriptions=subscriptions,
                    filter_database=filter_database,
                ),
                validator=validator,
                authenticator=self._authenticator,
                clock=self.clock,
                scope=scope,
                metrics=self.metrics,
                readiness=self._readiness,
                max_body_bytes=s.api.max_body_bytes,
                serve_metrics=s.telemetry.metrics,
                routes=[tail.add_routes],
                streaming={"StartLiveTail": live_sessions.open},
            )
            stack.push_async_callback(server.stop)
            try:
                bound = await server.start(
                    host, port, shutdown_timeout_s=s.daemon.shutdown_timeout_ms / 1000
                )
            except OSError as exc:
                raise StartupError(f"cannot listen on {s.api.listen}: {exc.strerror}") from exc
            stack.callback(self._remove_signal_handlers, loop)
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._on_stop_signal)
            loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)
            self.ready = True
            listen = f"{bound[0]}:{bound[1]}"
            self.notifier.ready(status=f"serving the API on {listen}")
            log.info(
                "Listening.",
                extra=fields(listen=listen, data_dir=str(data_dir), version=__version__),
            )
            async with asyncio.TaskGroup() as tasks:
                watchdog = tasks.create_task(self._watchdog())
                await self._stop.wait()
                watchdog.cancel()
            self.ready = False
            self.notifier.stopping()
            log.info("Stopping: draining in-flight requests.")
            await livetail.close()  # ends open tail streams, so draining does not wait
            await server.stop()
        self.notifier.close()
        log.info("Stopped.")
        return 0

    def _start_tail(self, store: Store, stack: contextlib.AsyncExitStack) -> None:
        """The `[[tail]]` files into the store, resuming from its recovered checkpoints."""
        options = self.settings.agent_options()
        if not options.tails:
            return
        agent, sink = tail_into_store(store, options, self.clock)
        bind_metrics(self.metrics, agent, sink)
        task = asyncio.create_task(agent.run(), name="logd-tail")
        task.add_done_callback(_log_tail_end)

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        stack.push_async_callback(stop)
        log.info("Tailing files.", extra=fields(entries=len(options.tails)))

    @staticmethod
    def _remove_signal_handlers(loop: asyncio.AbstractEventLoop) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)

    def _on_stop_signal(self) -> None:
        if self._stop.is_set():
            log.warning("Second stop signal: exiting at once.")
            os._exit(1)
        self._stop.set()

    def _on_reload_signal(self) -> None:
        self.notifier.reloading()
        try:
            self.reload()
        finally:
            self.notifier.ready()

    def reload(self) -> bool:
        """Apply the config file again; False (old settings kept) when it is invalid."""
        if self.config_path is None:
            log.info("Reload requested without --config: nothing to reload.")
            return True
        try:
            new = load(self.config_path, env=self.env, overrides=self.overrides)
            authenticator = self._authenticator_for(new)
        except (SettingsError, StartupError) as exc:
            problems = exc.problems if isinstance(exc, SettingsError) else [str(exc)]
            for problem in problems:
                log.error(
                    "Reload rejected; the running configuration stays.",
                    extra=fields(problem=str(problem), config=str(self.config_path)),
                )
            self.metrics.config_reloads.inc(result="rejected")
            return False
        changes = changed_keys(self.settings, new)
        if self._authenticator is not None:
            self._authenticator.mode = authenticator.mode
            self._authenticator.credentials = authenticator.credentials
        logs.set_level(new.telemetry.log_level)
        restart = sorted(k for k, live in changes.items() if not live)
        applied = sorted(k for k, live in changes.items() if live)
        self.settings = new
        self.metrics.config_reloads.inc(result="applied")
        log.info("Configuration reloaded.", extra=fields(applied=applied, needs_restart=restart))
        return True

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval_s
        if interval is None:
            return
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)


def _log_tail_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("The tail agent stopped.", exc_info=task.exception())


def serve(settings: Settings, *, config_path: Path | None, overrides: Mapping[str, object]) -> int:
    """Run the daemon on uvloop until it is stopped; the exit code."""
    import uvloop

    tune_interpreter()
    daemon = Daemon(settings, config_path=config_path, overrides=overrides)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return uvloop.run(daemon.run())
    except (StartupError, errors.DataDirectoryLocked) as exc:
        log.error("Cannot start.", extra=fields(reason=str(exc)))
        return 1
    return 0
