"""Result printing for every subcommand: table on a terminal, JSON lines when piped.

``--output table|json|jsonl|csv|raw``: ``table`` aligns columns; ``json`` one array;
``jsonl`` one object per line; ``csv`` RFC 4180 with a header; ``raw`` only the
message (or the first column). Column order is the order given. No colour is ever
written (none is needed for these formats), so ``NO_COLOR`` holds trivially.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

FORMATS = ("table", "json", "jsonl", "csv", "raw")


def default_format(stream: TextIO) -> str:
    return "table" if stream.isatty() else "jsonl"


def iso_ms(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def write(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    stream: TextIO | None = None,
    raw_column: str | None = None,
) -> int:
    """Print `rows` (dicts keyed by `columns`) in `fmt`; the number of rows printed."""
    out = stream or sys.stdout
    count = 0
    if fmt == "table":
        table = [[_cell(r.get(c)) for c in columns] for r in rows]
        widths = [max([len(c), *(len(row[i]) for row in table)]) for i, c in enumerate(columns)]
        out.write(
            "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
            + "\n"
        )
        for row in table:
            out.write(
                "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n"
            )
        return len(table)
    if fmt == "json":
        items = [{c: r.get(c) for c in columns} for r in rows]
        out.write(orjson.dumps(items, option=orjson.OPT_INDENT_2).decode() + "\n")
        return len(items)
    writer = csv.writer(out, lineterminator="\r\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(columns)
    for item in rows:
        count += 1
        if writer is not None:
            writer.writerow([_cell(item.get(c)) for c in columns])
        elif fmt == "raw":
            out.write(_cell(item.get(raw_column or columns[0])) + "\n")
        else:
            out.write(orjson.dumps({c: item.get(c) for c in columns}).decode() + "\n")
    return count


def stream_writer(columns: Sequence[str], fmt: str, stream: TextIO | None = None,
                  raw_column: str | None = None) -> Any:  # fmt: skip
    """A function printing rows one batch at a time (follow mode): tables become jsonl-like
    aligned lines without a re-computed width."""
    out = stream or sys.stdout
    header_done = False

    def emit(rows: list[dict[str, Any]]) -> None:
        nonlocal header_done
        if fmt in ("table",):
            for row in rows:
                out.write("  ".join(_cell(row.get(c)) for c in columns) + "\n")
        elif fmt == "csv":
            writer = csv.writer(out, lineterminator="\r\n")
            if not header_done:
                writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in columns])
        else:
            write(rows, columns, "jsonl" if fmt == "json" else fmt, out, raw_column)
        header_done = True
        out.flush()

    return emit
