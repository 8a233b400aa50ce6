"""Multi-line events: a line matching the start pattern begins an event, others continue it.

An event ends at the next start line, at `max_lines`, when the next line would take it
past the event cap, before a part of a long line (parts stand alone), or when the caller
flushes (the flush timeout passed without new bytes, or the file is final). An event
still open at the end of a turn is not emitted: the caller's checkpoint stays at its
first byte and the bytes are read again next turn, so a crash mid-event never emits
half of it and never loses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import re2


@dataclass(slots=True)
class Grouped:
    messages: list[str]
    ends: list[int]
    cont: list[bool] | None
    open_start: int | None
    """File offset of the first byte of the event left open, or None if all are emitted."""


class Multiline:
    def __init__(self, start_pattern: str, *, max_lines: int, max_bytes: int) -> None:
        self.start = re2.compile(start_pattern)
        self.max_lines = max_lines
        self.max_bytes = max_bytes

    def group(
        self,
        messages: list[str],
        ends: list[int],
        cont: list[bool] | None,
        turn_start: int,
        *,
        flush: bool,
    ) -> Grouped:
        out_m: list[str] = []
        out_e: list[int] = []
        out_c: list[bool] = []
        cur: list[str] = []
        cur_start = turn_start  # offset of the current event's first byte
        prev_end = turn_start
        search = self.start.search
        cap = self.max_bytes

        def close(end: int) -> None:
            text = "\n".join(cur)
            if len(cur) > 1 and len(text) * 3 > cap and len(text.encode()) > cap:
                out_m.extend(cur)  # replacement characters grew it past the cap
                out_e.extend([end] * len(cur))
                out_c.extend([False] * len(cur))
            else:
                out_m.append(text)
                out_e.append(end)
                out_c.append(False)
            cur.clear()

        for i, msg in enumerate(messages):
            end = ends[i]
            if cont is not None and (cont[i] or (i + 1 < len(messages) and cont[i + 1])):
                if cur:  # a long line's parts stand alone
                    close(prev_end)
                out_m.append(msg)
                out_e.append(end)
                out_c.append(cont[i])
                cur_start = prev_end = end
                continue
            if cur and (
                search(msg) is not None or len(cur) >= self.max_lines or end - cur_start > cap
            ):
                close(prev_end)
                cur_start = prev_end
            if not cur:
                cur_start = prev_end
            cur.append(msg)
            prev_end = end
        open_start: int | None = None
        if cur:
            if flush:
                close(prev_end)
            else:
                open_start = cur_start
        return Grouped(out_m, out_e, out_c if cont is not None else None, open_start)
