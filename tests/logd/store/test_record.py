"""The log payload round-trips exactly and rejects what it could not have written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logd.store.record import RecordError, decode, encode, encode_messages, slice_messages

texts = st.text(min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    gid=st.integers(1, 2**40),
    group=st.text(min_size=1, max_size=30),
    stream=st.text(max_size=30),
    ingestion=st.integers(0, 2**50),
    first=st.integers(1, 2**50),
    events=st.lists(st.tuples(st.integers(0, 2**50), texts), max_size=30),
    checkpoint=st.none() | st.tuples(st.text(max_size=20), st.binary(max_size=40)),
)
def test_round_trip(gid, group, stream, ingestion, first, events, checkpoint) -> None:
    timestamps = [t for t, _ in events]
    messages = [m for _, m in events]
    payload = encode(
        group_id=gid,
        group=group,
        stream=stream,
        ingestion_time=ingestion,
        first_seq=first,
        timestamps=timestamps,
        messages=encode_messages(messages),
        checkpoint=checkpoint,
    )
    rec = decode(payload)
    assert (rec.group_id, rec.group, rec.stream) == (gid, group, stream)
    assert (rec.ingestion_time, rec.first_seq, rec.checkpoint) == (ingestion, first, checkpoint)
    assert rec.timestamps.to_pylist() == timestamps
    assert rec.messages.to_pylist() == messages


@settings(max_examples=100, deadline=None)
@given(messages=st.lists(texts, min_size=1, max_size=20), data=st.data())
def test_slices_keep_exact_bytes(messages, data) -> None:
    enc = encode_messages(messages)
    lo = data.draw(st.integers(0, len(messages)))
    hi = data.draw(st.integers(lo, len(messages)))
    part = slice_messages(enc, lo, hi)
    assert [part.size(i) for i in range(hi - lo)] == [len(m.encode()) for m in messages[lo:hi]]
    assert part.blob == "".join(messages[lo:hi]).encode()


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 200), flip=st.integers(0, 400))
def test_truncated_or_garbled_payloads_raise_record_error_only(cut, flip) -> None:
    payload = encode(
        group_id=1,
        group="g",
        stream="s",
        ingestion_time=5,
        first_seq=1,
        timestamps=[1, 2],
        messages=encode_messages(["hello", "wörld"]),
        checkpoint=("k", b"v"),
    )
    broken = [payload[: min(cut, len(payload) - 1)]]
    garbled = bytearray(payload)
    garbled[flip % len(payload)] ^= 0xFF
    broken.append(bytes(garbled))
    for candidate in broken:
        try:
            rec = decode(candidate)
        except RecordError:
            continue
        # A flip inside a value may still decode; it must then be self-consistent.
        assert len(rec.messages) == len(rec.timestamps)


def test_unknown_version_is_refused() -> None:
    payload = bytearray(
        encode(
            group_id=1,
            group="g",
            stream="s",
            ingestion_time=0,
            first_seq=1,
            timestamps=[],
            messages=encode_messages([]),
        )
    )
    payload[0] = 9
    with pytest.raises(RecordError, match="version"):
        decode(bytes(payload))
