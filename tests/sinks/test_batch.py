"""Batch: the payload exactly as the reference shows it, NDJSON, ids, split."""

import base64
import gzip
import hashlib

import orjson
import pytest

from logd.model import event_id
from sinks import CONTROL_MESSAGE, DATA_MESSAGE, Batch
from sinks.testing import make_batch

# subscriptions-and-export.md §4.1's example, field by field.
REF_ID = "36828157683219541102034867112457215003124517838436335616"
REF_MESSAGE = '{"level":"ERROR","msg":"boom"}'


def reference_batch(**fields):
    return Batch(
        owner="123456789012",
        group="/app/web",
        stream="web-1",
        subscription_filters=("errors-to-kafka",),
        ids=[REF_ID],
        timestamps=[1714557600000],
        messages=[REF_MESSAGE],
        ingestion_times=[1714557600123],
        **fields,
    )


def test_payload_is_the_reference_envelope():
    payload = reference_batch().to_cloudwatch_payload()
    assert payload[:2] == b"\x1f\x8b"  # gzip
    text = gzip.decompress(payload)
    envelope = orjson.loads(text)
    assert list(envelope) == [
        "owner",
        "logGroup",
        "logStream",
        "subscriptionFilters",
        "messageType",
        "logEvents",
    ]
    assert envelope == {
        "owner": "123456789012",
        "logGroup": "/app/web",
        "logStream": "web-1",
        "subscriptionFilters": ["errors-to-kafka"],
        "messageType": "DATA_MESSAGE",
        "logEvents": [{"id": REF_ID, "timestamp": 1714557600000, "message": REF_MESSAGE}],
    }
    # Compact UTF-8 JSON: no whitespace between tokens; message kept as a string.
    assert text == orjson.dumps(envelope)
    assert b", " not in text
    assert b": " not in text
    assert isinstance(envelope["logEvents"][0]["id"], str)


def test_payload_is_deterministic_with_mtime_zero():
    a = reference_batch().to_cloudwatch_payload()
    b = reference_batch().to_cloudwatch_payload()
    assert a == b
    assert a[4:8] == b"\x00\x00\x00\x00"  # gzip MTIME field


def test_non_ascii_messages_are_utf8_not_escaped():
    batch = make_batch(1, message=lambda s: 'héllo ✓ \u2028 "q" \\ \n')
    text = gzip.decompress(batch.to_cloudwatch_payload())
    assert "héllo ✓".encode() in text
    assert orjson.loads(text)["logEvents"][0]["message"] == 'héllo ✓ \u2028 "q" \\ \n'


def test_policy_level_only_when_set():
    plain = orjson.loads(reference_batch().to_cloudwatch_json())
    assert "policyLevel" not in plain
    account = orjson.loads(
        reference_batch(policy_level="ACCOUNT_LEVEL_POLICY").to_cloudwatch_json()
    )
    assert account["policyLevel"] == "ACCOUNT_LEVEL_POLICY"


def test_control_message_shape():
    batch = Batch.control("webhook", 1714557600000)
    envelope = orjson.loads(gzip.decompress(batch.to_cloudwatch_payload()))
    assert next(iter(envelope)) == "messageType"
    assert envelope == {
        "messageType": CONTROL_MESSAGE,
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": 1714557600000,
                "message": "CWL CONTROL MESSAGE: Checking health of destination webhook.",
            }
        ],
    }
    assert batch.message_type == CONTROL_MESSAGE
    assert reference_batch().message_type == DATA_MESSAGE


def test_awslogs_event_wraps_the_payload():
    batch = reference_batch()
    event = orjson.loads(batch.to_awslogs_event())
    assert list(event) == ["awslogs"]
    assert base64.b64decode(event["awslogs"]["data"]) == batch.to_cloudwatch_payload()


def test_ndjson_is_the_reference_line():
    expected = (
        '{"id":"36828157683219541102034867112457215003124517838436335616",'
        '"timestamp":1714557600000,"ingestionTime":1714557600123,"owner":"123456789012",'
        '"logGroup":"/app/web","logStream":"web-1","subscriptionFilter":"errors-to-kafka",'
        '"message":"{\\"level\\":\\"ERROR\\",\\"msg\\":\\"boom\\"}"}\n'
    )
    assert reference_batch().to_ndjson().decode() == expected


def test_ndjson_lines_decode_to_the_columns():
    batch = make_batch(5, group='g"1', stream="s/ü", message=lambda s: f"line {s}\twith\nnewline")
    lines = batch.ndjson_lines()
    assert len(lines) == 5
    assert all(b"\n" not in line for line in lines)
    rows = [orjson.loads(line) for line in lines]
    assert [r["id"] for r in rows] == list(batch.ids)
    assert [r["message"] for r in rows] == list(batch.messages)
    assert [r["timestamp"] for r in rows] == list(batch.timestamps)
    assert [r["ingestionTime"] for r in rows] == list(batch.ingestion_times or [])
    assert {r["logGroup"] for r in rows} == {'g"1'}
    assert {r["logStream"] for r in rows} == {"s/ü"}
    assert batch.to_ndjson() == b"".join(line + b"\n" for line in lines)


def test_ndjson_without_ingestion_times_uses_timestamps():
    batch = Batch(
        owner="1",
        group="g",
        stream="s",
        subscription_filters=("f",),
        ids=["a"],
        timestamps=[5],
        messages=["m"],
    )
    assert orjson.loads(batch.to_ndjson())["ingestionTime"] == 5


def test_id_is_the_idempotency_key_of_the_batch_boundaries():
    batch = make_batch(10, first_seq=41, group="/app/web", stream="web-1", filter_name="f1")
    assert list(batch.ids) == [event_id(s) for s in range(41, 51)]  # logd's event ids
    text = "logd/v1|f1|/app/web|web-1|41|50"
    assert batch.id == hashlib.sha256(text.encode()).hexdigest()[:32]
    again = make_batch(10, first_seq=41, group="/app/web", stream="web-1", filter_name="f1")
    assert again.id == batch.id
    assert make_batch(10, first_seq=42, group="/app/web", stream="web-1").id != batch.id
    assert make_batch(10, first_seq=41, group="/app/web", stream="web-2").id != batch.id
    assert make_batch(10, first_seq=41, subscription="other").id != make_batch(10).id


def test_split_halves_in_order_with_their_own_ids():
    batch = make_batch(7, first_seq=1)
    left, right = batch.split()
    assert list(left.ids) + list(right.ids) == list(batch.ids)
    assert list(left.messages) + list(right.messages) == list(batch.messages)
    assert len(left) == 3
    assert len(right) == 4
    assert len({left.id, right.id, batch.id}) == 3
    assert left.id == make_batch(3, first_seq=1).id
    assert (left.group, left.stream, left.subscription) == (
        batch.group,
        batch.stream,
        batch.subscription,
    )
    with pytest.raises(ValueError, match="cannot be split"):
        make_batch(1).split()


def test_columns_must_line_up():
    with pytest.raises(ValueError, match="at least one"):
        Batch(
            owner="1",
            group="g",
            stream="s",
            subscription_filters=(),
            ids=[],
            timestamps=[],
            messages=[],
        )
    with pytest.raises(ValueError, match="same length"):
        Batch(
            owner="1",
            group="g",
            stream="s",
            subscription_filters=(),
            ids=["a"],
            timestamps=[],
            messages=["m"],
        )
    with pytest.raises(ValueError, match="ingestion_times"):
        Batch(
            owner="1", group="g", stream="s", subscription_filters=(),
            ids=["a"], timestamps=[1], messages=["m"], ingestion_times=[1, 2],
        )  # fmt: skip


def test_message_bytes_counts_utf8():
    assert make_batch(2, message=lambda s: "é").message_bytes == 4


SYSTEM = (("@aws.account", "123456789012"), ("@aws.region", "eu-west-1"))


def test_system_fields_go_into_every_event_of_both_renderings():
    batch = make_batch(3, system_fields=SYSTEM)
    envelope = orjson.loads(batch.to_cloudwatch_json())
    for event in envelope["logEvents"]:
        assert list(event) == ["id", "timestamp", "message", "@aws.account", "@aws.region"]
        assert (event["@aws.account"], event["@aws.region"]) == ("123456789012", "eu-west-1")
    lines = [orjson.loads(line) for line in batch.ndjson_lines()]
    assert [line["@aws.region"] for line in lines] == ["eu-west-1"] * 3
    assert [line["message"] for line in lines] == list(batch.messages)
    assert list(lines[0])[-1] == "message"


def test_system_fields_survive_a_split():
    left, right = make_batch(4, system_fields=SYSTEM).split()
    assert left.system_fields == right.system_fields == SYSTEM
    assert orjson.loads(right.ndjson_lines()[0])["@aws.account"] == "123456789012"


def test_without_system_fields_nothing_is_added():
    plain = orjson.loads(reference_batch().to_cloudwatch_json())
    assert list(plain["logEvents"][0]) == ["id", "timestamp", "message"]
    assert not any(key.startswith("@") for key in orjson.loads(reference_batch().ndjson_lines()[0]))
