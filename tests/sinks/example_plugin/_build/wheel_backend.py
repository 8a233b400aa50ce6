"""A tiny PEP 517 build backend (standard library only) for the example plugin.

setuptools on this project's machines lacks the `wheel` package it needs to build
wheels, and tests install offline, so the example plugin carries its own backend: it
reads `[project]` and `[project.entry-points]` from pyproject.toml and writes a pure
Python wheel (METADATA, WHEEL, entry_points.txt, RECORD). pip installs that wheel like
any other, so discovery sees a really installed distribution.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _files(project: dict) -> dict[str, bytes]:
    dist = f"{_dist_name(project['name'])}-{project['version']}.dist-info"
    files: dict[str, bytes] = {}
    for package in ("logd_example_sink",):
        for path in sorted((ROOT / package).rglob("*.py")):
            files[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '>=3')}",
    ]
    files[f"{dist}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    files[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: logd-example-backend\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    sections = []
    for group, entries in project.get("entry-points", {}).items():
        lines = [f"[{group}]"] + [f"{k} = {v}" for k, v in entries.items()]
        sections.append("\n".join(lines))
    files[f"{dist}/entry_points.txt"] = ("\n\n".join(sections) + "\n").encode()
    return files


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None) -> list[str]:
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None) -> str:
    project = _project()
    name = f"{_dist_name(project['name'])}-{project['version']}-py3-none-any.whl"
    files = _files(project)
    dist = next(p.split("/")[0] for p in files if p.endswith("/METADATA"))
    record = [_record_line(p, d) for p, d in files.items()] + [f"{dist}/RECORD,,"]
    with zipfile.ZipFile(Path(wheel_directory) / name, "w", zipfile.ZIP_DEFLATED) as whl:
        for path, data in files.items():
            whl.writestr(path, data)
        whl.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return name
