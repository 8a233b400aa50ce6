"""Our event-stream encoder against botocore's own decoder and StartLiveTail parser."""

from __future__ import annotations

import zlib

import botocore.session
import orjson
import pytest
from botocore.eventstream import ChecksumMismatch, EventStream, EventStreamBuffer
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser

from logd.api import eventstream


def decode(data: bytes, chunk: int | None = None) -> list[object]:
    buffer = EventStreamBuffer()
    out: list[object] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        buffer.add_data(data[i : i + step])
        out.extend(buffer)
    return out


def test_a_message_decodes_with_its_headers_and_payload() -> None:
    frame = eventstream.encode_message([("a", "1"), (":event-type", "héllo")], b'{"x": 1}')
    (message,) = decode(frame)
    assert message.headers == {"a": "1", ":event-type": "héllo"}  # type: ignore[attr-defined]
    assert message.payload == b'{"x": 1}'  # type: ignore[attr-defined]
    assert message.prelude.total_length == len(frame)  # type: ignore[attr-defined]


def test_messages_decode_when_fed_byte_by_byte() -> None:
    frames = [eventstream.event("sessionUpdate", orjson.dumps({"n": i})) for i in range(5)]
    frames.append(eventstream.encode_message([], b""))  # no headers, no payload
    messages = decode(b"".join(frames), chunk=1)
    assert [m.payload for m in messages] == [  # type: ignore[attr-defined]
        *(orjson.dumps({"n": i}) for i in range(5)),
        b"",
    ]
    assert messages[0].headers == {  # type: ignore[attr-defined]
        ":message-type": "event",
        ":event-type": "sessionUpdate",
        ":content-type": "application/json",
    }


def test_a_damaged_byte_fails_the_checksum() -> None:
    frame = bytearray(eventstream.event("sessionStart", b"{}"))
    frame[-6] ^= 0x01  # inside the payload
    with pytest.raises(ChecksumMismatch):
        decode(bytes(frame))
    frame = bytearray(eventstream.event("sessionStart", b"{}"))
    frame[5] ^= 0x01  # inside the prelude
    with pytest.raises(ChecksumMismatch):
        decode(bytes(frame))


def test_crcs_are_crc32_of_the_documented_ranges() -> None:
    frame = eventstream.encode_message([("k", "v")], b"payload")
    assert int.from_bytes(frame[8:12], "big") == zlib.crc32(frame[:8])
    assert int.from_bytes(frame[-4:], "big") == zlib.crc32(frame[:-4])
    assert int.from_bytes(frame[4:8], "big") == len(frame) - 12 - 4 - len(b"payload")


def test_oversized_headers_are_refused() -> None:
    with pytest.raises(ValueError, match="1-255"):
        eventstream.encode_message([("", "v")], b"")
    with pytest.raises(ValueError, match="65535"):
        eventstream.encode_message([("k", "v" * 70_000)], b"")


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self):  # type: ignore[no-untyped-def]
        yield from (self.data[i : i + 7] for i in range(0, len(self.data), 7))

    def close(self) -> None:
        pass


def test_botocore_parses_a_live_tail_stream_we_encode() -> None:
    model = botocore.session.get_session().get_service_model("logs")
    shape = model.operation_model("StartLiveTail").output_shape.members["responseStream"]
    update = {
        "sessionMetadata": {"sampled": True},
        "sessionResults": [
            {
                "logStreamName": "s",
                "logGroupIdentifier": "g",
                "message": "m",
                "timestamp": 5,
                "ingestionTime": 6,
            }
        ],
    }
    data = b"".join(
        [
            eventstream.event("initial-response", b"{}"),
            eventstream.event("sessionStart", orjson.dumps({"sessionId": "x"})),
            eventstream.event("sessionUpdate", orjson.dumps(update)),
            eventstream.exception("SessionTimeoutException", b'{"message": "done"}'),
        ]
    )
    stream = EventStream(_Raw(data), shape, EventStreamJSONParser(), "StartLiveTail")
    assert stream.get_initial_response().payload == b"{}"
    seen: list[object] = []
    with pytest.raises(EventStreamError) as info:
        seen.extend(stream)
    assert seen == [{"sessionStart": {"sessionId": "x"}}, {"sessionUpdate": update}]
    assert info.value.response["Error"] == {"Code": "SessionTimeoutException", "Message": "done"}
