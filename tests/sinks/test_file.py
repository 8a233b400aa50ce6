"""The file sink on a real directory: contents, rotation, torn tails, names, errors."""

import errno
import os
import stat

import orjson
import pytest

from sinks import FatalError, RetryableError, SinkContext, SinkOptionsError
from sinks.file import FileOptions, FileSink, _map_os_error, sanitise
from sinks.testing import SinkContract, make_batch


class Clock:
    def __init__(self, now: float = 1_714_557_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def file_sink(root, clock=None, **options):
    context = SinkContext.create("file", "test", now=clock or Clock())
    return FileSink(FileOptions.from_dict({"root": str(root), **options}), context)


def read_events(root):
    events = []
    for path in sorted(root.rglob("*"), key=lambda p: (str(p.parent), _order(p))):
        if path.is_file():
            events += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return [(e["id"], e["message"]) for e in events]


def _order(path):
    # rotated files (.1, .2 …) hold older data than the live file
    suffix = path.name.rsplit(".", 1)[-1]
    return (0, int(suffix)) if suffix.isdigit() else (1, 0)


class TestFileSinkContract(SinkContract):
    @pytest.fixture
    def sink(self, tmp_path):
        return file_sink(tmp_path / "out")

    @pytest.fixture
    def delivered(self, tmp_path):
        return lambda: read_events(tmp_path / "out")

    @pytest.fixture
    def broken_sink(self, tmp_path):
        (tmp_path / "not-a-dir").write_text("x")
        return file_sink(tmp_path / "not-a-dir" / "root")


async def test_ndjson_lines_land_in_group_and_stream_files(tmp_path):
    a = make_batch(3, group="/app/web", stream="web-1")
    b = make_batch(2, first_seq=4, group="/app/web", stream="web-2")
    async with file_sink(tmp_path) as sink:
        await sink.send(a)
        await sink.send(b)
    web1 = tmp_path / "%2Fapp%2Fweb" / "web-1.ndjson"
    assert web1.read_bytes() == a.to_ndjson()
    assert (tmp_path / "%2Fapp%2Fweb" / "web-2.ndjson").read_bytes() == b.to_ndjson()
    assert stat.S_IMODE(web1.stat().st_mode) == 0o640


async def test_cloudwatch_rendering_writes_one_decoded_envelope_per_line(tmp_path):
    batches = [make_batch(2), make_batch(2, first_seq=3)]
    async with file_sink(tmp_path, rendering="cloudwatch", path="{stream}.jsonl") as sink:
        for batch in batches:
            await sink.send(batch)
    lines = (tmp_path / "stream-1.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == [
        orjson.loads(b.to_cloudwatch_json()) for b in batches
    ]


async def test_size_rotation_numbers_files_and_never_splits_a_batch(tmp_path):
    batches = [make_batch(4, first_seq=1 + 4 * i, message=lambda s: f"m{s:04d}") for i in range(6)]
    size = len(batches[0].to_ndjson())
    assert {len(b.to_ndjson()) for b in batches} == {size}
    async with file_sink(tmp_path, path="{stream}.ndjson", max_file_bytes=2 * size + 1) as sink:
        for batch in batches:
            await sink.send(batch)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["stream-1.ndjson", "stream-1.ndjson.1", "stream-1.ndjson.2"]
    for name in names:
        data = (tmp_path / name).read_bytes()
        assert len(data) == 2 * size
        assert data.endswith(b"\n")
    expected = [(i, m) for b in batches for i, m in zip(b.ids, b.messages, strict=True)]
    assert read_events(tmp_path) == expected


async def test_time_rotation_uses_the_injected_clock(tmp_path):
    clock = Clock()
    async with file_sink(tmp_path, clock, path="{stream}.ndjson", rotate_every_s=60) as sink:
        await sink.send(make_batch(1, first_seq=1))
        clock.now += 59
        await sink.send(make_batch(1, first_seq=2))
        clock.now += 1
        await sink.send(make_batch(1, first_seq=3))
    assert len((tmp_path / "stream-1.ndjson.1").read_bytes().splitlines()) == 2
    assert len((tmp_path / "stream-1.ndjson").read_bytes().splitlines()) == 1


async def test_rotation_numbering_continues_after_restart(tmp_path):
    batch = make_batch(2)
    for _ in range(2):
        async with file_sink(tmp_path, path="s.ndjson", max_file_bytes=1) as sink:
            await sink.send(batch)
            await sink.send(batch)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "s.ndjson",
        "s.ndjson.1",
        "s.ndjson.2",
        "s.ndjson.3",
    ]


async def test_torn_final_line_is_truncated_before_appending(tmp_path):
    first, second = make_batch(2), make_batch(2, first_seq=3)
    target = tmp_path / "s.ndjson"
    target.write_bytes(first.to_ndjson() + b'{"id":"torn')
    async with file_sink(tmp_path, path="s.ndjson") as sink:
        await sink.send(second)
    assert target.read_bytes() == first.to_ndjson() + second.to_ndjson()


@pytest.mark.parametrize("fsync", ["batch", "interval", "never"])
async def test_every_fsync_policy_writes_everything(tmp_path, fsync):
    batches = [make_batch(3, first_seq=1 + 3 * i) for i in range(3)]
    async with file_sink(tmp_path, fsync=fsync, fsync_interval_ms=0) as sink:
        for batch in batches:
            await sink.send(batch)
    assert len(read_events(tmp_path)) == 9


async def test_many_streams_over_max_open_files(tmp_path):
    async with file_sink(tmp_path, path="{stream}", max_open_files=2) as sink:
        for round_ in range(2):
            for s in range(5):
                await sink.send(make_batch(1, first_seq=round_ + 1, stream=f"s{s}"))
    assert all(len((tmp_path / f"s{s}").read_bytes().splitlines()) == 2 for s in range(5))


@pytest.mark.parametrize(
    ("name", "component"),
    [
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("", "%00"),
        ("../../etc", "..%2F..%2Fetc"),
        ("50%/x", "50%25%2Fx"),
    ],
)
def test_names_are_sanitised_to_one_component(name, component):
    assert sanitise(name) == component
    assert "/" not in sanitise(name)


async def test_hostile_names_stay_under_the_root(tmp_path):
    root = tmp_path / "root"
    async with file_sink(root, path="{group}/{stream}") as sink:
        await sink.send(make_batch(1, group="../../..", stream=".."))
    assert [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()] == [
        "..%2F..%2F../%2E%2E"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]


def test_date_and_hour_come_from_the_first_event(tmp_path):
    sink = file_sink(tmp_path, path="{date}/{hour}/{stream}.ndjson")
    target = sink.target(make_batch(1, start_ms=1_714_557_600_000 - 1))
    assert target.relative_to(tmp_path).as_posix() == "2024-05-01/10/stream-1.ndjson"


def test_a_path_leaving_the_root_is_fatal_even_unvalidated(tmp_path):
    # from_dict refuses such a template; the check at write time is the second wall
    sink = FileSink(
        FileOptions(root=str(tmp_path), path="../{stream}"), SinkContext.create("file", "t")
    )
    with pytest.raises(FatalError, match="leaves the root"):
        sink.target(make_batch(1))


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"path": "/abs/{stream}"}, "path"),
        ({"path": "../{stream}"}, "path"),
        ({"path": "{nope}"}, "path"),
        ({"max_file_bytes": -1}, "max_file_bytes"),
        ({"max_open_files": 0}, "max_open_files"),
        ({"fsync": "always"}, "fsync"),
    ],
)
def test_bad_options_name_their_key(tmp_path, options, where):
    with pytest.raises(SinkOptionsError) as info:
        FileOptions.from_dict({"root": str(tmp_path), **options}, path="sinks.archive")
    assert [w for w, _ in info.value.problems] == [f"sinks.archive.{where}"]


@pytest.mark.parametrize(
    ("code", "kind", "retry_after"),
    [
        (errno.ENOSPC, RetryableError, 30.0),
        (errno.EDQUOT, RetryableError, 30.0),
        (errno.EACCES, RetryableError, 60.0),
        (errno.EROFS, RetryableError, 60.0),
        (errno.EIO, RetryableError, None),
        (errno.ENAMETOOLONG, FatalError, None),
    ],
)
def test_os_errors_are_classified(tmp_path, code, kind, retry_after):
    error = _map_os_error(OSError(code, os.strerror(code)), tmp_path)
    assert type(error) is kind
    assert getattr(error, "retry_after", None) == retry_after


async def test_a_name_too_long_is_fatal_for_the_batch(tmp_path):
    async with file_sink(tmp_path, path="{stream}") as sink:
        with pytest.raises(FatalError, match="name too long"):
            await sink.send(make_batch(1, stream="s" * 300))
        await sink.send(make_batch(1))  # the sink still works
    assert (tmp_path / "stream-1").exists()
