"""The folder format: one YAML file per source under ``qualifying_events/``,
``metric_sources/`` and ``assignment_sources/`` (one subfolder per kind, ``sync.kinds``),
fields as on the wire, SQL as a block scalar or in a ``.sql`` file of the same stem beside
it; ``qualevents.yaml`` at the top holds the folder's ``syncId``. ``read_folder`` checks
every file against the kind's wire body and raises ``FolderInvalid`` listing every problem
with its file, line and column; ``write_folder`` (``pull``) writes files that read back to
the same documents and leaves a file alone when its content would not change. Imports
``errors``, ``wire``, ``sync.kinds``, ``sync.schema``.

The SQL of a source keeps where it came from (``SourceFile.sql_position``), so an error the
SQL parser places at "line 2, column 15" of the query is reported at the line and column of
the file that holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from qualevents.errors import ErrorItem, FolderInvalid
from qualevents.sync.kinds import APPLY_FIELDS, FOLDER_FILE, KINDS, NOT_IN_FILES, SyncKind
from qualevents.sync.schema import shipped_text
from qualevents.wire import EVENT_FIELDS

YAML_SUFFIXES = (".yaml", ".yml")
# libyaml's parser and emitter when PyYAML was built with it (several times faster; the
# same nodes and marks), else PyYAML's own.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SCHEMA_FOLDER = ".schemas"
MAX_SYNC_ID_LENGTH = 200
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    file: str  # relative to the folder, with '/'
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def problem(position: Position, message: str) -> ErrorItem:
    return ErrorItem(
        (),
        message,
        {"file": position.file, "line": position.line, "column": position.column},
    )


@dataclass
class SourceFile:
    """One source as its file states it: ``data`` is the wire document (camelCase)."""

    kind: SyncKind
    file: str
    data: dict[str, Any]
    # Where each value (and each mapping key, under ``("key", *path)``) starts.
    marks: dict[Path_, Position] = field(default_factory=dict, repr=False)
    # Where the SQL's first character is, and whether it is a block scalar (its lines keep
    # their column) or a one-line scalar (the column continues the file's).
    sql_start: Position | None = None

    @property
    def name(self) -> str:
        return str(self.data.get("name"))

    def position(self, path: Path_ = (), *, key: bool = False) -> Position:
        """Where the value at ``path`` (wire names, list indexes) is, or its nearest parent's."""
        if key and ("key", *path) in self.marks:
            return self.marks[("key", *path)]
        for end in range(len(path), -1, -1):
            found = self.marks.get(tuple(path[:end]))
            if found is not None:
                return found
        return Position(self.file, 1, 1)

    def sql_position(self, line: int, column: int) -> Position:
        """The file position of the SQL's ``line`` and ``column`` (1-based, as the SQL
        parser counts them)."""
        start = self.sql_start or self.position(("sql",))
        if line <= 1:
            return Position(start.file, start.line, start.column + column - 1)
        return Position(start.file, start.line + line - 1, start.column + column - 1)

    def position_of_property(self, prop: str) -> Position:
        """Where an error's ``property`` (``idTypeMapping[0].column``) points."""
        return self.position(parse_property(prop))


def parse_property(prop: str) -> Path_:
    """``idTypeMapping[0].column`` -> ``("idTypeMapping", 0, "column")``."""
    path: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", prop or ""):
        path.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(path)


@dataclass
class Folder:
    root: Path
    sync_id: str
    sources: list[SourceFile]

    def find(self, kind: str, name: str) -> SourceFile | None:
        for source in self.sources:
            if source.kind.name == kind and source.name == name:
                return source
        return None


# -- reading -------------------------------------------------------------------------------


def _mark(file: str, mark: Any) -> Position:
    return Position(file, mark.line + 1, mark.column + 1)


def load_yaml(file: str, text: str) -> tuple[Any, dict[Path_, Position]]:
    """The document in ``text`` and the position of each of its values; FolderInvalid for
    a syntax error or a key given twice."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _mark(file, mark) if mark is not None else Position(file, 1, 1)
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise FolderInvalid(errors=[problem(where, f"Invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise FolderInvalid(
            errors=[problem(Position(file, 1, 1), f"Invalid YAML: {exc}")]
        ) from None
    marks: dict[Path_, Position] = {}
    problems: list[ErrorItem] = []
    seen: set[int] = set()

    def build(node: Any, path: Path_) -> Any:
        marks[path] = _mark(file, node.start_mark)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            # An alias is the anchored node again: expanding them could make a small file
            # describe an enormous document, and no source needs one.
            if id(node) in seen:
                problems.append(problem(marks[path], "YAML aliases (*name) are not supported"))
                return None
            seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    problems.append(
                        problem(_mark(file, key_node.start_mark), f"Keys must be text: {key!r}")
                    )
                    continue
                if key in result:
                    problems.append(
                        problem(_mark(file, key_node.start_mark), f"{key!r} is given twice")
                    )
                    continue
                marks[("key", *path, key)] = _mark(file, key_node.start_mark)
                result[key] = build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    try:
        value = build(node, ()) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise FolderInvalid(
            errors=[problem(_mark(file, mark), f"Invalid YAML: {exc.problem}")]
        ) from None
    finally:
        loader.dispose()
    if problems:
        raise FolderInvalid(errors=problems)
    return value, marks


def read_text(root: Path, path: Path) -> str:
    """A file of the folder as text; FolderInvalid when it is not UTF-8 or not readable."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        before = exc.object[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        where = Position(path.relative_to(root).as_posix(), line, column)
        raise FolderInvalid(errors=[problem(where, "Not UTF-8 text")]) from None
    except OSError as exc:
        where = Position(path.relative_to(root).as_posix(), 1, 1)
        raise FolderInvalid(errors=[problem(where, f"Cannot read: {exc.strerror}")]) from None


def _block_sql_start(text: str, mark: Position) -> Position:
    """Where the content of the block scalar whose indicator (``|``) is at ``mark`` starts:
    the first non-blank line after it, at that line's indentation."""
    lines = text.splitlines()
    for number in range(mark.line, len(lines)):  # mark.line is 1-based: the next line
        line = lines[number]
        if line.strip():
            return Position(mark.file, number + 1, len(line) - len(line.lstrip(" ")) + 1)
    return Position(mark.file, mark.line + 1, 1)


def _sql_start(text: str, source: SourceFile) -> Position | None:
    mark = source.marks.get(("sql",))
    if mark is None:
        return None
    line = text.splitlines()[mark.line - 1] if text.splitlines() else ""
    indicator = line[mark.column - 1 : mark.column]
    if indicator in ("|", ">"):
        return _block_sql_start(text, mark)
    if indicator in ("'", '"'):
        return Position(mark.file, mark.line, mark.column + 1)
    return mark


def _shape_problems(source: SourceFile) -> list[ErrorItem]:
    """The file's fields against the kind's wire body, every problem at its position."""
    found = []
    for key in NOT_IN_FILES:
        if key in source.data:
            why = (
                "set by `qualevents apply` from qualevents.yaml's syncId"
                if key in APPLY_FIELDS
                else "a request option, not a field of the source"
            )
            found.append(problem(source.position((key,), key=True), f"{key!r} is {why}; remove it"))
    try:
        source.kind.body.model_validate(
            {k: v for k, v in source.data.items() if k not in NOT_IN_FILES}
        )
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if error["type"] == "extra_forbidden":
                where = source.position(loc, key=True)
                message = f"Unknown field {'.'.join(map(str, loc))!r}" + (
                    f"; expected one of: {', '.join(EVENT_FIELDS)}" if len(loc) == 1 else ""
                )
            elif error["type"] == "missing":
                where = source.position(loc[:-1])
                message = f"{'.'.join(map(str, loc))}: required"
            else:
                where = source.position(loc)
                message = f"{'.'.join(map(str, loc))}: {error['msg']}"
            found.append(problem(where, message))
    return found


def read_source(root: Path, path: Path, kind: SyncKind) -> SourceFile:
    file = path.relative_to(root).as_posix()
    text = read_text(root, path)
    data, marks = load_yaml(file, text)
    if not isinstance(data, dict):
        raise FolderInvalid(
            errors=[problem(Position(file, 1, 1), "Expected a mapping of the source's fields")]
        )
    source = SourceFile(kind, file, data, marks)
    source.sql_start = _sql_start(text, source)
    beside = path.with_suffix(".sql")
    if beside.exists():
        sql_file = beside.relative_to(root).as_posix()
        if "sql" in data:
            raise FolderInvalid(
                errors=[
                    problem(
                        source.position(("sql",), key=True),
                        f"The SQL is given twice: here and in {sql_file}; keep one",
                    )
                ]
            )
        source.data = {**data, "sql": read_text(root, beside)}
        source.sql_start = Position(sql_file, 1, 1)
    problems = _shape_problems(source)
    if problems:
        raise FolderInvalid(errors=problems)
    return source


def _read_sync_id(root: Path) -> str:
    path = root / FOLDER_FILE
    if not path.exists():
        raise FolderInvalid(
            f"{root} has no {FOLDER_FILE}",
            [
                problem(
                    Position(FOLDER_FILE, 1, 1),
                    "Missing: create it with a line such as `syncId: analytics` (the name "
                    "apply marks its sources with; `qualevents pull` writes one)",
                )
            ],
        )
    data, marks = load_yaml(FOLDER_FILE, read_text(root, path))
    start = Position(FOLDER_FILE, 1, 1)
    if not isinstance(data, dict):
        raise FolderInvalid(errors=[problem(start, "Expected a mapping with syncId")])
    unknown = [key for key in data if key != "syncId"]
    if unknown:
        raise FolderInvalid(
            errors=[
                problem(marks.get(("key", key), start), f"Unknown field {key!r}; expected syncId")
                for key in unknown
            ]
        )
    sync_id = data.get("syncId")
    if not isinstance(sync_id, str) or not sync_id.strip() or sync_id != sync_id.strip():
        raise FolderInvalid(
            errors=[
                problem(
                    marks.get(("syncId",), start),
                    "syncId: required, a non-empty name without surrounding spaces",
                )
            ]
        )
    if len(sync_id) > MAX_SYNC_ID_LENGTH:
        raise FolderInvalid(
            errors=[problem(marks[("syncId",)], f"syncId: at most {MAX_SYNC_ID_LENGTH} characters")]
        )
    return sync_id


def _source_paths(root: Path, kind: SyncKind) -> list[Path]:
    folder = root / kind.folder
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)


def read_folder(root: Path) -> Folder:
    """Every source the folder states; FolderInvalid listing every problem of every file
    (a file that cannot be read, a field that does not fit, two files naming one source, a
    ``.sql`` file with no YAML file beside it)."""
    problems: list[ErrorItem] = []
    sync_id = ""
    try:
        sync_id = _read_sync_id(root)
    except FolderInvalid as exc:
        problems += exc.errors
    sources: list[SourceFile] = []
    for kind in KINDS:
        for path in _source_paths(root, kind):
            try:
                sources.append(read_source(root, path, kind))
            except FolderInvalid as exc:
                problems += exc.errors
        folder = root / kind.folder
        if folder.is_dir():
            for sql in sorted(folder.glob("*.sql")):
                if not any(sql.with_suffix(s).exists() for s in YAML_SUFFIXES):
                    where = Position(sql.relative_to(root).as_posix(), 1, 1)
                    problems.append(
                        problem(where, f"No {sql.stem}.yaml beside it to say which source it is")
                    )
    seen: dict[tuple[str, str], SourceFile] = {}
    for source in sources:
        key = (source.kind.name, source.name)
        if key in seen:
            first = seen[key]
            problems.append(
                problem(
                    source.position(("name",)),
                    f"{source.kind.noun.capitalize()} {source.name!r} is also named by "
                    f"{first.file}:{first.position(('name',)).line}; one file per source",
                )
            )
        else:
            seen[key] = source
    if problems:
        raise FolderInvalid(f"{root}: {len(problems)} problem(s) in the folder", problems)
    return Folder(root, sync_id, sources)


# -- writing -------------------------------------------------------------------------------


class _Block(str):
    """A string written as a YAML block scalar (``|``)."""


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    pass


def _represent_block(dumper: Any, value: _Block) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


_Dumper.add_representer(_Block, _represent_block)


def slug(name: str) -> str:
    """A file stem for ``name``: lowercase letters, digits and ``_``."""
    text = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return text[:80] or "source"


def field_order(kind: SyncKind) -> list[str]:
    return [info.alias or name for name, info in kind.body.model_fields.items()]


def render_source(kind: SyncKind, data: dict[str, Any], *, sql_beside: bool = False) -> str:
    """The file for one source: its wire fields in the body's order (``name`` first), the
    SQL as a block scalar (or left out when it lives in the ``.sql`` file beside it)."""
    order = ["name", "description", *field_order(kind)]
    known = {key: data[key] for key in dict.fromkeys(order) if key in data}
    rest = {key: value for key, value in data.items() if key not in known}
    ordered = {**known, **rest}
    for key in NOT_IN_FILES:
        ordered.pop(key, None)
    if sql_beside:
        ordered.pop("sql", None)
    for key in ("sql", "description"):
        value = ordered.get(key)
        if isinstance(value, str) and (key == "sql" or "\n" in value):
            ordered[key] = _Block(value)
    header = f"# yaml-language-server: $schema=../{SCHEMA_FOLDER}/{kind.name}.schema.json\n"
    body = yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)
    return header + body


@dataclass
class WriteSummary:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _write_if_changed(path: Path, text: str, summary: WriteSummary, root: Path) -> None:
    relative = path.relative_to(root).as_posix()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        summary.unchanged.append(relative)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    summary.written.append(relative)


def _existing_names(root: Path, kind: SyncKind) -> dict[str, Path]:
    """Which file names which source now (files that cannot be read are skipped)."""
    found: dict[str, Path] = {}
    for path in _source_paths(root, kind):
        try:
            data, _ = load_yaml(path.name, path.read_text(encoding="utf-8"))
        except FolderInvalid:
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            found.setdefault(data["name"], path)
    return found


def write_folder(
    root: Path, documents: dict[str, list[dict[str, Any]]], *, default_sync_id: str
) -> WriteSummary:
    """Write each kind's wire documents into ``root``: a source already named by a file is
    written to that file (its SQL to the ``.sql`` file beside it if it has one), a new one
    to ``<kind folder>/<slug of its name>.yaml``; ``qualevents.yaml`` when missing, and the
    JSON Schemas editors validate against. Files whose content would not change are not
    touched; files of sources not given are left as they are."""
    summary = WriteSummary()
    root.mkdir(parents=True, exist_ok=True)
    if not (root / FOLDER_FILE).exists():
        _write_if_changed(
            root / FOLDER_FILE, yaml.safe_dump({"syncId": default_sync_id}), summary, root
        )
    for kind in KINDS:
        schema = shipped_text(kind)
        _write_if_changed(root / SCHEMA_FOLDER / f"{kind.name}.schema.json", schema, summary, root)
        existing = _existing_names(root, kind)
        taken = {path.name for path in existing.values()}
        for data in sorted(documents.get(kind.name, []), key=lambda d: str(d.get("name"))):
            name = str(data.get("name"))
            path = existing.get(name)
            if path is None:
                stem, number = slug(name), 1
                while f"{stem}.yaml" in taken:
                    number += 1
                    stem = f"{slug(name)}_{number}"
                path = root / kind.folder / f"{stem}.yaml"
                taken.add(path.name)
            beside = path.with_suffix(".sql")
            sql_beside = beside.exists() and isinstance(data.get("sql"), str)
            if sql_beside:
                _write_if_changed(beside, data["sql"], summary, root)
            _write_if_changed(path, render_source(kind, data, sql_beside=sql_beside), summary, root)
    return summary
