"""Discovery: built-ins through the plugin door, and a real installed plugin.

The example plugin (tests/sinks/example_plugin) is installed for real with pip into a
temporary directory; discovery then runs in a child interpreter whose PYTHONPATH holds
that directory and this repository, exactly as an installed plugin would be seen.
"""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sinks import Sink, SinkOptions, SinkOptionsError, SinkPluginError, discovery
from sinks.file import FileSink
from sinks.kafka import KafkaSink
from sinks.testing import RecordingSink
from sinks.webhook import WebhookSink

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = Path(__file__).resolve().parent / "example_plugin"


def test_builtins_are_listed_and_load_through_the_same_validation():
    assert {"file", "kafka", "webhook"} <= set(discovery.names())
    assert discovery.load("kafka") is KafkaSink
    assert discovery.load("file") is FileSink
    assert discovery.load("webhook") is WebhookSink


def test_builtins_match_the_pyproject_entry_points():
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["logd.sinks"] == discovery.BUILTINS


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(SinkPluginError, match=r"no sink type 'nope'.*known types: .*file, kafka"):
        discovery.load("nope")


def test_parse_options_and_create_use_the_loaded_class(tmp_path):
    options = discovery.parse_options("file", {"root": str(tmp_path)}, path="sinks.archive")
    assert options.root == str(tmp_path)  # type: ignore[attr-defined]
    with pytest.raises(SinkOptionsError, match=r"sinks\.archive\.roots: unknown key; allowed keys"):
        discovery.parse_options("file", {"roots": "x"}, path="sinks.archive")
    context = discovery.SinkContext.create("file", "archive")
    assert isinstance(discovery.create("file", {"root": str(tmp_path)}, context), FileSink)


class Abstract(Sink[SinkOptions]):
    options_class = SinkOptions


class OldApi(RecordingSink):
    api_version = 0


class NoOptions(RecordingSink):
    options_class = dict  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("a string", "is not a sink: expected a subclass of sinks.Sink, got 'a string'"),
        (int, "is not a sink"),
        (Abstract, "is abstract: it does not implement send"),
        (OldApi, "written for sink API version 0; this logd supports version 1"),
        (NoOptions, "NoOptions.options_class must be a SinkOptions dataclass"),
    ],
)
def test_validation_refuses_what_is_not_a_usable_sink(obj, message):
    with pytest.raises(SinkPluginError) as info:
        discovery.validate(obj, "entry point 'x = m:X' from dist 1.0")
    assert str(info.value).startswith("entry point 'x = m:X' from dist 1.0")
    assert message in str(info.value)


def test_names_imports_no_sink_module():
    code = "import sys; from sinks import discovery; discovery.names(); " + (
        "print([m for m in ('sinks.kafka', 'sinks.file', 'sinks.webhook', 'aiokafka') "
        "if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example plugin, really installed by pip into a private target directory."""
    work = tmp_path_factory.mktemp("plugin")
    source = work / "src"
    shutil.copytree(
        PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--disable-pip-version-check", "--target", str(target),
         str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return target


def discover(target, script):
    """Run `script` in a child interpreter that sees the installed plugin; its JSON out."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        env={"PYTHONPATH": f"{target}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_installed_plugin_is_discovered_and_loads(installed):
    got = discover(
        installed,
        """
        import json, sys
        from sinks import discovery
        names = discovery.names()
        imported_early = "logd_example_sink" in sys.modules
        cls = discovery.load("example")
        options = cls.options_class.from_dict({"directory": "/tmp/x"})
        print(json.dumps({
            "names": names, "imported_early": imported_early,
            "cls": f"{cls.__module__}.{cls.__qualname__}",
            "file": sys.modules[cls.__module__].__file__,
            "where": discovery.describe(discovery.entry_point("example")),
            "directory": options.directory,
        }))
        """,
    )
    assert {"example", "example-not-a-sink", "example-broken", "file", "kafka", "webhook"} <= set(
        got["names"]
    )
    assert got["imported_early"] is False
    assert got["cls"] == "logd_example_sink.ExampleSink"
    assert got["file"].startswith(str(installed))  # the installed copy, not the source
    assert got["where"] == (
        "entry point 'example = logd_example_sink:ExampleSink' from logd-example-sink 0.1.0"
    )
    assert got["directory"] == "/tmp/x"


def test_installed_bad_entry_points_are_refused_with_name_and_distribution(installed):
    got = discover(
        installed,
        """
        import json
        from sinks import discovery, SinkPluginError
        out = {}
        for name in ("example-not-a-sink", "example-broken"):
            try:
                discovery.load(name)
            except SinkPluginError as exc:
                out[name] = str(exc)
        print(json.dumps(out))
        """,
    )
    assert got["example-not-a-sink"].startswith(
        "entry point 'example-not-a-sink = logd_example_sink:not_a_sink' from "
        "logd-example-sink 0.1.0 is not a sink: expected a subclass of sinks.Sink"
    )
    assert got["example-broken"].startswith(
        "entry point 'example-broken = logd_example_sink.missing:Sink' from "
        "logd-example-sink 0.1.0 failed to load: ModuleNotFoundError"
    )


def test_installed_plugin_runs_a_batch(installed, tmp_path):
    got = discover(
        installed,
        f"""
        import asyncio, json
        from sinks import SinkContext, discovery
        from sinks.testing import make_batch

        async def main():
            sink = discovery.create(
                "example", {{"directory": {str(tmp_path)!r}}}, SinkContext.create("example", "t")
            )
            async with sink:
                await sink.send(make_batch(2))

        asyncio.run(main())
        names = sorted(p.name for p in __import__("pathlib").Path({str(tmp_path)!r}).iterdir())
        print(json.dumps(names))
        """,
    )
    assert len(got) == 1
    assert got[0].endswith(".ndjson")
