"""Event time from a line: a strftime-like format or an epoch/RFC 3339 form, in a timezone.

`TimestampParser.parse(message, read_ms)` returns epoch ms or None; the agent falls back to
the read time on None and counts it. Formats are compiled once to an RE2 pattern with
named groups; the first match in the line is used. A local time inside a DST gap or
overlap resolves deterministically (`fold=0`: the offset in force before the change).
A format without a year takes the read time's year (the previous year if that would put
the event more than a day in the future: syslog's December lines read in January).
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from typing import Any

import orjson
import re2

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_MONTHS_FULL = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}

_DIRECTIVES: dict[str, str] = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>\d{1,2})",
    "d": r" ?(?P<d>\d{1,2})",
    "e": r" ?(?P<d>\d{1,2})",
    "H": r"(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "M": r"(?P<M>\d{2})",
    "S": r"(?P<S>\d{2})",
    "f": r"(?P<f>\d{1,9})",
    "z": r"(?P<z>Z|[+-]\d{2}:?\d{2})",
    "Z": r"(?P<Z>[A-Za-z]{1,5})",
    "b": r"(?P<b>[A-Za-z]{3})",
    "h": r"(?P<b>[A-Za-z]{3})",
    "B": r"(?P<B>[A-Za-z]{3,9})",
    "a": r"[A-Za-z]{3}",
    "A": r"[A-Za-z]{6,9}",
    "p": r"(?P<p>[AaPp][Mm])",
    "j": r"(?P<j>\d{3})",
    "%": "%",
}
_EXPANSIONS = {"T": "%H:%M:%S", "F": "%Y-%m-%d", "D": "%m/%d/%y", "R": "%H:%M"}
_RFC3339 = (
    r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[Tt ](?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
    r"(?:[.,](?P<f>\d{1,9}))?(?P<z>[Zz]|[+-]\d{2}:?\d{2})?"
)
_EPOCH = {
    "epoch_s": (r"(?P<e>\d{9,11}(?:\.\d{1,9})?)", 1000),
    "epoch_ms": (r"(?P<e>\d{12,14})", 1),
    "epoch_us": (r"(?P<e>\d{15,17})", 0.001),
    "epoch_ns": (r"(?P<e>\d{18,20})", 0.000001),
}
_DAY_MS = 86_400_000


class TimestampFormatError(ValueError):
    """A timestamp_format uses a directive this parser does not know."""


def format_to_pattern(fmt: str) -> str:
    """The RE2 pattern a strftime-like format (or rfc3339 / epoch_*) matches."""
    if fmt == "rfc3339":
        return _RFC3339
    if fmt in _EPOCH:
        return _EPOCH[fmt][0]
    for short, long in _EXPANSIONS.items():
        fmt = fmt.replace("%" + short, long)
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            d = fmt[i + 1]
            if d not in _DIRECTIVES:
                raise TimestampFormatError(f"unsupported directive %{d} in {fmt!r}")
            piece = _DIRECTIVES[d]
            name = piece[4] if piece.startswith("(?P<") else ""
            if name and name in seen:  # a repeated field is matched, not captured twice
                piece = piece.replace(f"(?P<{name}>", "(?:", 1)
            seen.add(name)
            out.append(piece)
            i += 2
        else:
            out.append(re2.escape(ch))
            i += 1
    return "".join(out)


def _zone(name: str) -> dt.tzinfo | None:
    if name.lower() == "utc":
        return dt.UTC
    if name.lower() == "local":
        return None
    return zoneinfo.ZoneInfo(name)


def _offset_s(text: str) -> int:
    if text in ("Z", "z"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


class TimestampParser:
    def __init__(self, fmt: str, *, key: str = "", timezone: str = "utc") -> None:
        self.format = fmt or ("rfc3339" if key else "")
        self.key = tuple(key.split(".")) if key else ()
        self.zone = _zone(timezone)
        self.pattern = format_to_pattern(self.format) if self.format else ""
        self._regex = re2.compile(self.pattern) if self.pattern else None
        self._epoch_scale = _EPOCH[self.format][1] if self.format in _EPOCH else None

    def parse(self, message: str, read_ms: int) -> int | None:
        text: Any = message
        if self.key:
            try:
                text = orjson.loads(message)
                for part in self.key:
                    text = text[part]
            except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
                return None
            if isinstance(text, int | float) and not isinstance(text, bool):
                scale = self._epoch_scale or (1 if abs(text) > 1e11 else 1000)
                return int(text * scale)
            if not isinstance(text, str):
                return None
        if self._regex is None:
            return None
        match = self._regex.search(text)
        if match is None:
            return None
        try:
            return self._to_ms(match.groupdict(), read_ms)
        except (ValueError, OverflowError, KeyError):
            return None

    def _to_ms(self, g: dict[str, str | None], read_ms: int) -> int:
        if self._epoch_scale is not None:
            return int(float(g["e"] or "") * self._epoch_scale)
        year_given = g.get("Y") or g.get("y")
        if g.get("Y"):
            year = int(g["Y"] or "")
        elif g.get("y"):
            year = 2000 + int(g["y"] or "")
        else:
            year = dt.datetime.fromtimestamp(read_ms / 1000, dt.UTC).year
        if g.get("b"):
            month = _MONTHS[(g["b"] or "").lower()]
        elif g.get("B"):
            month = _MONTHS_FULL[(g["B"] or "").lower()]
        else:
            month = int(g.get("m") or 1)
        day = int(g.get("d") or 1)
        if g.get("j"):
            ordinal = dt.date(year, 1, 1) + dt.timedelta(days=int(g["j"] or "") - 1)
            month, day = ordinal.month, ordinal.day
        hour = int(g.get("H") or 0)
        if g.get("I"):
            hour = int(g["I"] or "") % 12 + (12 if (g.get("p") or "").lower() == "pm" else 0)
        minute, second = int(g.get("M") or 0), int(g.get("S") or 0)
        frac = g.get("f") or ""
        micro = int((frac + "000000")[:6]) if frac else 0
        ms = self._epoch_ms(year, month, day, hour, minute, second, micro, g.get("z"), g.get("Z"))
        if not year_given and ms > read_ms + _DAY_MS:
            ms = self._epoch_ms(year - 1, month, day, hour, minute, second, micro, None, None)
        return ms

    def _epoch_ms(
        self,
        y: int,
        mo: int,
        d: int,
        h: int,
        mi: int,
        s: int,
        us: int,
        z: str | None,
        zn: str | None,
    ) -> int:
        if z:
            naive = dt.datetime(y, mo, d, h, mi, s, us, tzinfo=dt.UTC)
            return int(naive.timestamp() * 1000) - _offset_s(z) * 1000
        zone = self.zone
        if zn and zn.upper() in ("UTC", "GMT", "Z"):
            zone = dt.UTC
        when = dt.datetime(y, mo, d, h, mi, s, us, tzinfo=zone, fold=0)
        return (
            calendar.timegm(when.utctimetuple()) * 1000 + us // 1000
            if zone is not None
            else int(when.timestamp() * 1000)
        )
