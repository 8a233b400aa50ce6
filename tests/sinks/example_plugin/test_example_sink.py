"""The plugin's own tests: logd's sink contract, run by the plugin author."""

import pytest
from logd_example_sink import ExampleOptions, ExampleSink, read_events

from sinks import SinkContext
from sinks.testing import SinkContract, make_batch


def make_sink(directory):
    return ExampleSink(ExampleOptions(directory=str(directory)), SinkContext.create("example", "t"))


class TestExampleSink(SinkContract):
    @pytest.fixture
    def sink(self, tmp_path):
        return make_sink(tmp_path / "out")

    @pytest.fixture
    def delivered(self, tmp_path):
        return lambda: read_events(tmp_path / "out") if (tmp_path / "out").exists() else []

    @pytest.fixture
    def broken_sink(self, tmp_path):
        (tmp_path / "file").write_text("not a directory")
        return make_sink(tmp_path / "file" / "out")


async def test_redelivery_overwrites_instead_of_duplicating(tmp_path):
    batch = make_batch(3)
    async with make_sink(tmp_path) as sink:
        await sink.send(batch)
        await sink.send(make_batch(3, attempt=2))
    assert len(list(tmp_path.glob("*.ndjson"))) == 1
    assert read_events(tmp_path) == list(zip(batch.ids, batch.messages, strict=True))
