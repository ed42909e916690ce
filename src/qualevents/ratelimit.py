"""Per-key rate limits: token buckets, off by default (a self-hosted server should not
throttle its own Terraform runs). Imports ``errors`` and ``config``; the buckets live in the
store so that several server processes share them.

Spec strings (``QUALEVENTS_RATE_LIMIT``):
- ``off``: no limit (no store access at all);
- ``statsig``: Statsig's documented limits, 100 requests per 10 s and 900 per 15 min;
- ``N/SECONDS[,N/SECONDS...]``: custom, e.g. ``50/1,1000/60``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from qualevents.errors import ConfigurationError, RateLimited

PRESETS = {"statsig": "100/10,900/900"}


@dataclass(frozen=True)
class Rule:
    requests: int
    seconds: float

    @property
    def refill_per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def name(self) -> str:
        return f"{self.requests}/{self.seconds:g}"


class BucketStore(Protocol):
    def take_token(
        self, bucket: str, capacity: float, refill_per_s: float, now: float
    ) -> float: ...


def parse_rules(spec: str) -> list[Rule]:
    spec = PRESETS.get(spec.strip().lower(), spec.strip())
    if spec.lower() in ("", "off", "none"):
        return []
    rules = []
    for part in spec.split(","):
        try:
            count, seconds = part.strip().split("/")
            rule = Rule(int(count), float(seconds))
        except ValueError:
            rule = Rule(0, 0)
        if rule.requests < 1 or not rule.seconds > 0:
            raise ConfigurationError(
                f"Invalid rate limit {part.strip()!r}; expected 'off', 'statsig' or "
                "'N/SECONDS[,N/SECONDS...]' such as '100/10,900/900'"
            )
        rules.append(rule)
    return rules


class RateLimiter:
    def __init__(
        self, store: BucketStore, spec: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.rules = parse_rules(spec)
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self.rules)

    def check(self, key_id: str) -> None:
        """Take one request from each of the key's buckets; RateLimited when any is empty.

        Buckets are checked in order and a refusal stops there, so a refused request costs
        at most the tokens already taken from earlier (wider) windows.
        """
        now = self.clock()
        for rule in self.rules:
            wait = self.store.take_token(
                f"{key_id}:{rule.name}", float(rule.requests), rule.refill_per_s, now
            )
            if wait > 0:
                raise RateLimited(
                    math.ceil(wait),
                    f"Rate limit of {rule.requests} requests per {rule.seconds:g} s exceeded",
                )
