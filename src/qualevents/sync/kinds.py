"""The kinds of source a folder holds: for each, its subfolder, its words for messages and
the wire body a file is checked against (its domain class is ``models.source_model``).
Data, one list: every other part of ``sync`` loops over it. Imports ``wire``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from qualevents.wire import AssignmentSourceCreateBody, CreateBody


@dataclass(frozen=True)
class SyncKind:
    name: str  # the store's kind: "metric_source"
    folder: str  # the subfolder of a config folder: "metric_sources"
    body: type[BaseModel]  # the wire body a file's fields are checked against

    @property
    def noun(self) -> str:
        return self.name.replace("_", " ")


KINDS: tuple[SyncKind, ...] = (
    SyncKind("qualifying_event", "qualifying_events", CreateBody),
    SyncKind("metric_source", "metric_sources", CreateBody),
    SyncKind("assignment_source", "assignment_sources", AssignmentSourceCreateBody),
)
BY_NAME = {kind.name: kind for kind in KINDS}
BY_FOLDER = {kind.folder: kind for kind in KINDS}
# The folder's own file: its sync id (the owner mark apply stores with each source).
FOLDER_FILE = "qualevents.yaml"
# Fields the store keeps that a folder never states: set by apply.
APPLY_FIELDS = ("managedBy",)
# Fields no file states: the request's own (dryRun) and apply's.
NOT_IN_FILES = ("dryRun", *APPLY_FIELDS)


def kind_or_raise(name: str) -> SyncKind:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"Unknown kind {name!r}; expected one of: {', '.join(BY_NAME)}") from None
