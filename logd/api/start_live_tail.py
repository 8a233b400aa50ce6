"""StartLiveTail (logs-api.md §6.4): live tail as CloudWatch streams it, for boto3 and
`aws logs start-live-tail`.

The request is an ordinary JSON call (checked against botocore's model by the server,
then here: no ARN ending in ``*``, `logStreamNames` and `logStreamNamePrefixes`
mutually exclusive and only with exactly one group, the groups exist, the pattern
parses, fewer than `live_tail_max_sessions` sessions open). Errors up to that point
are ordinary JSON errors. The answer is an event stream (`logd.api.eventstream`):

1. an empty ``initial-response`` event (the JSON protocol's framing; botocore needs it);
2. one ``sessionStart`` `{requestId, sessionId, logGroupIdentifiers, ...}` echoing the
   request;
3. every `live_tail_update_interval_ms` a ``sessionUpdate`` `{sessionMetadata:
   {sampled}, sessionResults: [{logStreamName, logGroupIdentifier, message, timestamp,
   ingestionTime}]}` holding the events ingested since the previous one (an empty list
   when there were none). Beyond `live_tail_max_events_per_update` events the update
   carries an evenly spaced sample of them and ``sampled = true``; so does an update
   after the session's queue (`live_tail_queue_events`) overflowed;
4. ``SessionTimeoutException`` after `live_tail_session_timeout_ms`, or
   ``SessionStreamingException`` when logd stops; the stream then ends.

Each group is one transient subscription of `LiveTail` (no history, no cursor). An
update interleaves the groups by ingestion time, each group's events in their log
order; `logGroupIdentifier` is the identifier as the request gave it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web

from logd import errors
from logd.api import eventstream
from logd.api.auth import group_from_identifier
from logd.clock import Clock
from logd.subscriptions.livetail import Event, LiveTail, TailRequest, TailStream
from logd.subscriptions.options import SubscriptionOptions

OPERATION = "StartLiveTail"
TIMEOUT_MESSAGE = "The live tail session timed out after {duration}."
T = TypeVar("T")
STOPPING_MESSAGE = "The live tail session ended because logd is stopping."


@dataclass(frozen=True, slots=True)
class LiveTailQuery:
    """A checked StartLiveTail request: (identifier, group name) pairs and stream filters."""

    groups: tuple[tuple[str, str], ...]
    streams: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    pattern: str | None = None


def _strings(body: dict[str, Any], name: str) -> tuple[str, ...] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidParameterException(f"Parameter {name} must be a list of strings.")
    return tuple(value)


def parse_query(body: dict[str, Any]) -> LiveTailQuery:
    """The semantic checks of §6.4 (the model's sizes and patterns were checked before)."""
    identifiers = _strings(body, "logGroupIdentifiers")
    if not identifiers:
        raise errors.InvalidParameterException(
            "Missing required parameter: logGroupIdentifiers (1 to 10 log group ARNs or names)."
        )
    if len(identifiers) > 10:
        raise errors.InvalidParameterException("logGroupIdentifiers holds at most 10 log groups.")
    groups: list[tuple[str, str]] = []
    for identifier in identifiers:
        if identifier.endswith("*"):
            raise errors.InvalidParameterException(
                f"The log group identifier {identifier} must not end with *."
            )
        name = group_from_identifier(identifier)
        if name not in (g for _, g in groups):
            groups.append((identifier, name))
    streams = _strings(body, "logStreamNames")
    prefixes = _strings(body, "logStreamNamePrefixes")
    if streams is not None and prefixes is not None:
        raise errors.InvalidParameterException(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive."
        )
    if (streams is not None or prefixes is not None) and len(groups) != 1:
        raise errors.InvalidParameterException(
            "logStreamNames and logStreamNamePrefixes are allowed only with exactly one "
            "log group in logGroupIdentifiers."
        )
    for name, values in (("logStreamNames", streams), ("logStreamNamePrefixes", prefixes)):
        if values is not None and not 1 <= len(values) <= 100:
            raise errors.InvalidParameterException(f"{name} must hold 1 to 100 items.")
    pattern = body.get("logEventFilterPattern")
    if pattern is not None and not isinstance(pattern, str):
        raise errors.InvalidParameterException("Parameter logEventFilterPattern must be a string.")
    return LiveTailQuery(tuple(groups), streams or (), prefixes or (), pattern)


def sample(events: Sequence[T], limit: int) -> list[T]:
    """At most `limit` events, evenly spaced over `events`, in their order."""
    n = len(events)
    if n <= limit:
        return list(events)
    return [events[i * n // limit] for i in range(limit)]


@dataclass(slots=True, eq=False)
class LiveTailSession:
    """One open StartLiveTail: its per-group tails and what it sends."""

    owner: StartLiveTail
    query: LiveTailQuery
    request_id: str
    tails: list[tuple[str, TailStream]]
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    content_type: str = eventstream.CONTENT_TYPE
    _closed: bool = False

    def start_event(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requestId": self.request_id,
            "sessionId": self.session_id,
            "logGroupIdentifiers": [identifier for identifier, _ in self.query.groups],
        }
        if self.query.streams:
            out["logStreamNames"] = list(self.query.streams)
        if self.query.prefixes:
            out["logStreamNamePrefixes"] = list(self.query.prefixes)
        if self.query.pattern is not None:
            out["logEventFilterPattern"] = self.query.pattern
        return out

    def update_event(self) -> dict[str, Any]:
        """Everything queued since the last update, sampled down to the limit."""
        per_group: list[list[tuple[str, Event]]] = []
        sampled = False
        for identifier, tail in self.tails:
            events, missed = tail.session.poll()
            sampled = sampled or missed > 0
            per_group.append([(identifier, ev) for ev in events])
        # groups interleaved by ingestion time; each group keeps its own order
        results = list(heapq.merge(*per_group, key=lambda item: item[1][3]))
        limit = self.owner.options.live_tail_max_events_per_update
        if len(results) > limit:
            results = sample(results, limit)
            sampled = True
        return {
            "sessionMetadata": {"sampled": sampled},
            "sessionResults": [
                {
                    "logStreamName": ev[1],
                    "logGroupIdentifier": identifier,
                    "message": ev[4],
                    "timestamp": ev[2],
                    "ingestionTime": ev[3],
                }
                for identifier, ev in results
            ],
        }

    @property
    def stopping(self) -> bool:
        return any(tail.session.closed for _, tail in self.tails)

    async def run(self, response: web.StreamResponse) -> None:
        """Write the session until it times out, logd stops or the client goes away."""
        opts = self.owner.options
        clock = self.owner.clock
        interval = opts.live_tail_update_interval_ms / 1000
        ends = clock.monotonic() + opts.live_tail_session_timeout_ms / 1000
        try:
            await response.write(eventstream.event("initial-response", b"{}"))
            await response.write(eventstream.event("sessionStart", _json(self.start_event())))
            while True:
                left = ends - clock.monotonic()
                if left <= 0:
                    message = TIMEOUT_MESSAGE.format(
                        duration=_duration(opts.live_tail_session_timeout_ms)
                    )
                    await response.write(_exception("SessionTimeoutException", message))
                    return
                await asyncio.sleep(min(interval, left))
                if self.stopping:
                    await response.write(_exception("SessionStreamingException", STOPPING_MESSAGE))
                    return
                await response.write(eventstream.event("sessionUpdate", _json(self.update_event())))
        except ConnectionError:
            return  # the client went away: nothing left to tell it

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for _, tail in self.tails:
            tail.close()
        self.owner.active.discard(self)


class StartLiveTail:
    """Opens StartLiveTail sessions over the daemon's `LiveTail` hub, within the quota."""

    def __init__(self, livetail: LiveTail, options: SubscriptionOptions, clock: Clock) -> None:
        self.livetail = livetail
        self.options = options
        self.clock = clock
        self.active: set[LiveTailSession] = set()

    async def open(self, body: dict[str, Any], request_id: str) -> LiveTailSession:
        """Check and register at once; raises `logd.errors.*` before any byte is sent."""
        query = parse_query(body)
        if len(self.active) >= self.options.live_tail_max_sessions:
            raise errors.LimitExceededException(
                f"At most {self.options.live_tail_max_sessions} live tail sessions may be "
                "open at once."
            )
        tails: list[tuple[str, TailStream]] = []
        try:
            for identifier, name in query.groups:
                request = TailRequest(
                    group=name,
                    streams=query.streams,
                    stream_prefixes=query.prefixes,
                    pattern=query.pattern or "",
                )
                tails.append((identifier, self.livetail.open(request)))
        except BaseException:
            for _, tail in tails:
                tail.close()
            raise
        session = LiveTailSession(self, query, request_id, tails)
        self.active.add(session)
        return session

    async def close(self) -> None:
        for session in list(self.active):
            with contextlib.suppress(Exception):
                session.close()


def _json(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value)


def _exception(kind: str, message: str) -> bytes:
    return eventstream.exception(kind, _json({"message": message}))


def _duration(ms: int) -> str:
    if ms % 3_600_000 == 0:
        hours = ms // 3_600_000
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{ms / 1000:g} seconds"
