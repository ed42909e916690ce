"""Per-key rate limits: off by default, Statsig's preset, custom rules, 429 with Retry-After
in the contract's shape, and buckets shared through the store (several processes)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.errors import ConfigurationError, RateLimited
from qualevents.keys import KeyService
from qualevents.ratelimit import RateLimiter, Rule, parse_rules
from qualevents.store import open_store

BASE = "/console/v1/experiments/qualifying_events"


def test_rule_specs():
    assert parse_rules("off") == []
    assert parse_rules("statsig") == [Rule(100, 10), Rule(900, 900)]
    assert parse_rules("5/1, 60/60") == [Rule(5, 1), Rule(60, 60)]
    for bad in ("5", "x/1", "0/10", "5/0", "5/-1"):
        with pytest.raises(ConfigurationError):
            parse_rules(bad)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_the_rule_rate(store):
    clock = Clock()
    limiter = RateLimiter(store, "3/6", clock=clock)
    for _ in range(3):
        limiter.check("k")
    with pytest.raises(RateLimited) as refused:
        limiter.check("k")
    assert refused.value.retry_after == 2  # one token every 2 s
    limiter.check("other-key")  # buckets are per key
    clock.now += 2.0
    limiter.check("k")
    with pytest.raises(RateLimited):
        limiter.check("k")


def test_two_store_instances_share_one_limit(database_url):
    # Two engines on one database stand for two server processes.
    first, second = open_store(database_url), open_store(database_url)
    try:
        clock = Clock()
        a = RateLimiter(first, "4/60", clock=clock)
        b = RateLimiter(second, "4/60", clock=clock)
        a.check("shared"), b.check("shared"), a.check("shared"), b.check("shared")
        with pytest.raises(RateLimited):
            a.check("shared")
        with pytest.raises(RateLimited):
            b.check("shared")
    finally:
        first.close()
        second.close()


def test_off_by_default(client):
    for _ in range(30):
        assert client.get(BASE).status_code == 200


def test_429_has_retry_after_and_the_error_shape(database_url, store):
    settings = Settings(
        database_url=database_url, warehouse_url="none", rate_limit="3/60", _env_file=None
    )
    app = create_app(settings, store=store)
    app.state.context.rate_limiter.clock = Clock()
    secret = KeyService(store).create("busy")[1]
    with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
        assert [http.get(BASE).status_code for _ in range(3)] == [200, 200, 200]
        refused = http.get(BASE)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 20
    body = refused.json()
    assert body["status"] == 429
    assert body["errors"] and body["errors"][0]["errorMessage"].startswith("Rate limit exceeded")


def test_statsig_preset_allows_a_burst_of_100(database_url, store):
    settings = Settings(
        database_url=database_url, warehouse_url="none", rate_limit="statsig", _env_file=None
    )
    app = create_app(settings, store=store)
    app.state.context.rate_limiter.clock = Clock()  # no refill while the burst runs
    secret = KeyService(store).create("tf")[1]
    with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
        statuses = [http.get(BASE).status_code for _ in range(101)]
    assert statuses[:100] == [200] * 100
    assert statuses[100] == 429
