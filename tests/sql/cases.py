"""Loader of the table-driven SQL cases in ``tests/sql/fixtures/*.sql``.

One case per block; blocks are separated by blank lines. A block opens with ``-- key: value``
lines (``title``, ``dialect``, ``expect``, ``output``, ...), the rest is the SQL. Adding a
case is adding lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
_META = re.compile(r"^--\s*(title|dialect|expect|message|output|start|end|line|column):\s?(.*)$")


@dataclass
class Case:
    file: str
    number: int
    sql: str
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        title = self.meta.get("title") or self.sql.splitlines()[0][:40]
        return f"{self.file}:{self.number}:{self.meta.get('dialect', '')}:{title}"


def load(name: str) -> list[Case]:
    text = (FIXTURES / name).read_text()
    cases = []
    for number, block in enumerate(re.split(r"\n\s*\n", text.strip()), start=1):
        meta: dict[str, str] = {}
        lines = block.splitlines()
        while lines and (match := _META.match(lines[0])):
            meta[match.group(1)] = match.group(2).strip()
            lines = lines[1:]
        cases.append(Case(name, number, "\n".join(lines), meta))
    return cases


def params(name: str) -> list[object]:
    return [pytest.param(case, id=case.id) for case in load(name)]
