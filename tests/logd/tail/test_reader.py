"""Framer properties: however a file's bytes arrive, records are its lines, exactly once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from logd.tail.checkpoint import NORMAL
from logd.tail.reader import Framer

lines_st = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=30
)


@settings(max_examples=200, deadline=None)
@given(lines=lines_st, cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
       cap=st.integers(min_value=8, max_value=64))  # fmt: skip
def test_records_reassemble_the_lines_whatever_the_read_boundaries(lines, cuts, cap):
    data = b"".join(line + b"\n" for line in lines)
    framer = Framer(cap, "split", "utf-8", "")
    grown = sorted({min(c, len(data)) for c in cuts} | {len(data)})
    offset, state, out, ends = 0, NORMAL, [], []
    cont: list[bool] = []
    for size in grown:  # the file grows to `size`; read everything from the offset
        rec = framer.frame(data[offset:size], offset, state, final=False)
        out += rec.raw
        ends += rec.ends
        cont += rec.cont if rec.cont is not None else [False] * len(rec.raw)
        assert rec.settled >= offset
        offset, state = rec.settled, rec.line_state
    assert offset == len(data)
    assert ends == sorted(ends)
    assert all(len(r.decode("utf-8", "replace").encode()) <= cap for r in out)
    joined: list[bytes] = []
    for raw, c in zip(out, cont, strict=True):
        if c:
            joined[-1] += raw
        else:
            joined.append(raw)
    assert joined == lines


def test_a_final_unterminated_line_after_complete_ones_is_decoded_too():
    # A drained (rotated or deleted) file whose last line has no newline: every record,
    # the fast block path's and the unterminated one after it, becomes a message.
    for data in (b"a\nb", b"caf\xc3\xa9\nb", b"a\r\nb"):
        framer = Framer(1000, "split", "utf-8", "")
        records = framer.frame(data, 0, NORMAL, final=True)
        messages, _ = framer.decode(records)
        assert messages == [data.split(b"\n")[0].rstrip(b"\r").decode(), "b"]
        assert records.ends == [data.index(b"\n") + 1, len(data)]
