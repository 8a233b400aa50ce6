"""Settings: strict TOML loading with key paths and lines, generated config files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logd import settings

ROOT = Path(__file__).resolve().parents[2]


def problems_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(settings.SettingsError) as info:
        settings.parse(text, env=env or {})
    return [str(p) for p in info.value.problems]


def test_empty_file_gives_the_embedded_defaults() -> None:
    loaded = settings.parse("")
    assert loaded.daemon.data_dir == "./data"
    assert loaded.api.listen == "127.0.0.1:4586"
    assert loaded.api.auth == "none"


def test_shipped_default_config_loads_unchanged() -> None:
    loaded = settings.load(ROOT / "config" / "logd.toml")
    assert loaded == settings.Settings()


def test_shipped_example_config_loads() -> None:
    loaded = settings.load(ROOT / "config" / "logd.example.toml")
    assert loaded == settings.Settings()


def test_every_problem_is_reported_with_key_path_and_line() -> None:
    text = """\
[daemon]
data_dir = 5

[api]
listne = "0.0.0.0:1"
auth = "basic"

[[api.keys]]
access_key_id = "AK1"
secret_env = "S1"

[[api.keys]]
access_key_id = "AK2"
secret_env = "S2"
actions = ["logs:*", 7]

[nosuch]
x = 1
"""
    found = problems_of(text)
    assert "daemon.data_dir, line 2: expected a string, got integer 5" in found
    assert any(
        p.startswith("api.listne, line 5: unknown key 'listne' in [api]; allowed:") for p in found
    )
    assert any("listen" in p and "auth" in p for p in found if p.startswith("api.listne"))
    assert "api.auth, line 6: 'basic' is not one of 'none', 'sigv4'" in found
    assert "api.keys[1].actions[1], line 15: expected a string, got integer 7" in found
    assert any(p.startswith("nosuch, line 17: unknown key 'nosuch'") for p in found)
    assert len(found) == 5


def test_cross_field_validation_names_the_section() -> None:
    found = problems_of('[api]\nlisten = "0.0.0.0:4586"\n')
    assert found == [
        "api, line 1: auth = \"none\" is only allowed on a loopback address, not '0.0.0.0'; "
        'set auth = "sigv4" with [[api.keys]]'
    ]


def test_access_key_validation_points_at_the_table() -> None:
    text = '[api]\nauth = "sigv4"\n\n[[api.keys]]\naccess_key_id = "AK"\n'
    assert problems_of(text) == [
        "api.keys[0], line 4: give exactly one of secret_env and secret_file"
    ]


def test_environment_references_expand_and_unset_is_an_error() -> None:
    loaded = settings.parse('[daemon]\ndata_dir = "${BASE}/logd"\n', env={"BASE": "/srv"})
    assert loaded.daemon.data_dir == "/srv/logd"
    assert problems_of('[daemon]\ndata_dir = "${NOPE}"\n') == [
        "daemon.data_dir, line 2: environment variable NOPE is not set"
    ]


def test_toml_syntax_error_and_duplicate_key_have_lines() -> None:
    found = problems_of('[api]\nlisten = "a:1"\nlisten = "b:2"\n')
    assert len(found) == 1
    assert "line 3" in found[0]


def test_overrides_win_over_the_file_and_are_validated() -> None:
    loaded = settings.parse(
        '[api]\nlisten = "127.0.0.1:1"\n', overrides={"api.listen": "127.0.0.1:2"}
    )
    assert loaded.api.listen == "127.0.0.1:2"
    with pytest.raises(settings.SettingsError):
        settings.parse("", overrides={"api.listen": "10.0.0.1:2"})


def test_check_reports_unreadable_secrets(tmp_path: Path) -> None:
    config = tmp_path / "logd.toml"
    config.write_text(
        '[api]\nauth = "sigv4"\n\n[[api.keys]]\naccess_key_id = "AK"\nsecret_env = "SECRET_X"\n'
        '\n[[api.keys]]\naccess_key_id = "AK2"\nsecret_file = "' + str(tmp_path / "none") + '"\n'
    )
    found = [str(p) for p in settings.check(config, env={})]
    assert found[0] == "api.keys[0].secret_env, line 6: environment variable SECRET_X is not set"
    assert found[1].startswith("api.keys[1].secret_file, line 10: cannot read")
    assert settings.check(config, env={"SECRET_X": "s"})[0].path == "api.keys[1].secret_file"


def test_changed_keys_classifies_reloadable() -> None:
    old = settings.Settings()
    new = settings.parse('[api]\nlisten = "127.0.0.1:9"\n[telemetry]\nlog_level = "debug"\n')
    assert settings.changed_keys(old, new) == {"api.listen": False, "telemetry.log_level": True}


def test_schema_json_is_generated_from_the_options() -> None:
    shipped = json.loads((ROOT / "config" / "schema.json").read_text())
    assert shipped == settings.json_schema(), "regenerate: python3 -m logd check-config --schema"


def test_example_toml_is_generated_from_the_options() -> None:
    shipped = (ROOT / "config" / "logd.example.toml").read_text()
    assert shipped == settings.example_toml(), "regenerate: python3 -m logd check-config --example"


def test_every_option_is_documented() -> None:
    for name, cls in settings.sections().items():
        docs = settings.field_docs(cls)
        schema = settings.json_schema()["properties"][name]["properties"]
        for key in schema:
            assert docs.get(key), f"{name}.{key} has no docstring"


def test_named_tables_build_a_mapping_and_report_their_paths() -> None:
    loaded = settings.parse(
        '[export]\ndefault_root = "/srv/exports"\n\n'
        '[export.buckets.archive]\ntype = "s3"\nendpoint_url = "http://127.0.0.1:9000"\n'
    )
    bucket = loaded.export.buckets["archive"]
    assert (bucket.type, bucket.endpoint_url) == ("s3", "http://127.0.0.1:9000")
    found = problems_of('[export.buckets.local]\ntype = "dir"\nroot = 3\nsize = 1\n')
    assert "export.buckets.local.root, line 3: expected a string, got integer 3" in found
    assert any(p.startswith("export.buckets.local.size, line 4: unknown key 'size'") for p in found)
    # the parent's validate() checks each entry by name; the problem is put at that key
    assert problems_of('[export.buckets.b]\ntype = "dir"\n') == [
        "export.buckets.b.root, line 1: a dir bucket needs a root"
    ]


def test_configuration_reference_is_generated_from_the_options() -> None:
    shipped = (ROOT / "docs" / "configuration.md").read_text()
    assert shipped == settings.reference_markdown(), (
        "regenerate: python3 -m logd check-config --markdown > docs/configuration.md"
    )
    for name, cls in settings.sections().items():
        assert f"## `[{name}]`" in shipped
        for key in settings.field_docs(cls):
            assert f"| `{key}` |" in shipped, f"{name}.{key} is not documented"
