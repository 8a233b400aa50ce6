"""`[agent]` and `[[tail]]` in the daemon's config file (logd/settings.py)."""

from __future__ import annotations

import pytest

from logd import settings


def test_tail_tables_become_the_agent_options():
    loaded = settings.parse(
        '[agent]\nscan_interval_ms = 250\n\n[[tail]]\npaths = ["/var/log/a/*.log"]\n'
        'log_group = "a"\nretention_in_days = 7\n\n[[tail]]\npaths = ["/b/*.log"]\n'
        'log_group = "b"\n'
    )
    options = loaded.agent_options()
    assert options.scan_interval_ms == 250
    assert [(t.log_group, t.paths, t.retention_in_days) for t in options.tails] == [
        ("a", ("/var/log/a/*.log",), 7),
        ("b", ("/b/*.log",), 0),
    ]
    assert settings.parse("").agent_options().tails == ()


def problems(text: str) -> list[str]:
    with pytest.raises(settings.SettingsError) as info:
        settings.parse(text)
    return [str(p) for p in info.value.problems]


def test_tail_problems_name_the_entry_and_line():
    found = problems('[[tail]]\npaths = ["/x/*.log"]\nlog_group = "g"\nlog_grup = "h"\n')
    assert found[0].startswith("tail[0].log_grup, line 4: unknown key 'log_grup'")
    assert problems('[[tail]]\nlog_group = "g"\n') == [
        "tail[0].paths, line 1: at least one glob is required"
    ]
    assert problems('[[tail]]\npaths = ["/x"]\nlog_group = "g"\nretention_in_days = 2\n')[
        0
    ].startswith("tail[0].retention_in_days, line 4: must be 0 or one of 1, 3, 5")


def test_a_changed_tail_list_needs_a_restart():
    old = settings.parse('[[tail]]\npaths = ["/x"]\nlog_group = "g"\n')
    new = settings.parse('[[tail]]\npaths = ["/y"]\nlog_group = "g"\n')
    assert settings.changed_keys(old, new) == {"tail": False}
