"""The golden case format: a prose line, then sections.

```
X1. Equality filter, default order (newest first).
-- data --        optional: data set name under data/ (default app-logs)
-- params --      optional: `limit=2`, `groups=a,b`, `start=ms`, `end=ms`, `ptr=yes`
-- query --
filter level = "ERROR" | fields @timestamp, user, status
-- expect --      one JSON object per row, fields in column order (@ptr left out
{"@timestamp": "2024-05-01 10:06:00.000", "user": "bob", "status": "500"}
-- stats --       optional: `recordsMatched=2 recordsScanned=10`
```

or `-- error --` followed by `line L, column C, offsets S-E: message`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
DATA = HERE / "data"
ACCOUNT = "123456789012"


@dataclass
class Case:
    path: Path
    prose: str
    query: str
    data: str = "app-logs"
    params: dict[str, str] = field(default_factory=dict)
    expect: list[dict[str, str]] | None = None
    error: str | None = None
    stats: dict[str, float] = field(default_factory=dict)


def load(path: Path) -> Case:
    sections: dict[str, list[str]] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    prose = lines[0]
    current: str | None = None
    for line in lines[1:]:
        if line.startswith("-- ") and line.endswith(" --"):
            current = line[3:-3]
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    if "query" not in sections:
        raise ValueError(f"{path.name}: no -- query -- section")

    def body(name: str) -> str:
        return "\n".join(sections[name]).strip("\n")

    case = Case(path, prose, body("query"))
    if "data" in sections:
        case.data = body("data").strip()
    if "params" in sections:
        for item in body("params").split():
            key, _, value = item.partition("=")
            case.params[key] = value
    if "expect" in sections:
        case.expect = [json.loads(line) for line in sections["expect"] if line.strip()]
    if "error" in sections:
        case.error = body("error").strip()
    if "stats" in sections:
        for item in body("stats").split():
            key, _, value = item.partition("=")
            case.stats[key] = float(value)
    if (case.expect is None) == (case.error is None):
        raise ValueError(f"{path.name}: needs exactly one of -- expect -- or -- error --")
    return case


def dump(case: Case) -> str:
    parts = [case.prose]
    if case.data != "app-logs":
        parts += ["-- data --", case.data]
    if case.params:
        parts += ["-- params --", " ".join(f"{k}={v}" for k, v in case.params.items())]
    parts += ["-- query --", case.query]
    if case.error is not None:
        parts += ["-- error --", case.error]
    else:
        parts += ["-- expect --"]
        parts += [json.dumps(row, ensure_ascii=False) for row in case.expect or []]
    if case.stats:
        parts += ["-- stats --", " ".join(f"{k}={v:g}" for k, v in case.stats.items())]
    return "\n".join(parts) + "\n"


def cases() -> list[Path]:
    return sorted(GOLDEN.glob("*.case"))
