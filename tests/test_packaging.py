"""A wheel holds every package of the source tree: setuptools lists them by hand
(pyproject.toml ``[tool.setuptools] packages``), and an editable install would hide one that
is missing from that list."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = set()
    for top, name in (("daemon", "evidock.daemon"), ("drivers", "evidock.drivers")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *rel.parts]))
    assert set() == found - listed
