"""The import's parts that need no server: pacing under Statsig's documented limit, and the
fields a Statsig source has that qualevents does not keep."""

from __future__ import annotations

from qualevents.cli.imports import ImportReport, Pacer, carry
from qualevents.sync.kinds import BY_NAME
from qualevents.wire import EXAMPLE_EVENT


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_keeps_every_window():
    clock = Clock()
    pacer = Pacer("3/10,5/60", clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.wait()
    assert clock.slept == []
    pacer.wait()  # the 4th within 10 s waits for the first to leave the window
    assert clock.slept == [10.0]
    pacer.wait()
    assert clock.now == 10.0
    pacer.wait()  # the 6th within 60 s waits for the first to leave the minute
    assert clock.now == 60.0
    assert pacer.waited_s == 60.0


def test_statsig_preset_is_its_documented_limit():
    pacer = Pacer("statsig")
    assert [(r.requests, r.seconds) for r in pacer.rules] == [(100, 10.0), (900, 900.0)]


def test_fields_qualevents_does_not_keep_are_reported():
    report = ImportReport()
    statsig = {**EXAMPLE_EVENT, "id": "abc", "createdTime": 1, "managedBy": "x", "dryRun": True}
    carried = carry(BY_NAME["qualifying_event"], statsig, report)
    assert carried == EXAMPLE_EVENT
    assert report.dropped_fields == {
        "id": ["qualifying_event/Purchases"],
        "createdTime": ["qualifying_event/Purchases"],
        "managedBy": ["qualifying_event/Purchases"],
        "dryRun": ["qualifying_event/Purchases"],
    }
