"""``qualevents power``: locally against the demo warehouse and the demo sources (SQLite and
PostgreSQL stores): the table, ``--json``, ``--plot`` and the errors a user makes."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib import image

from qualevents.cli.power import power_body
from qualevents.runtime import ensure_demo_sources
from tests.test_cli_admin import demo_warehouse, run  # noqa: F401 (a fixture)

DEMO = ("added_to_cart", "--metric-source", "purchases")


def flat(text: str) -> str:
    """``text`` without the terminal's line breaks."""
    return " ".join(text.split())


def local(store, database_url, warehouse_url, *args: str):
    ensure_demo_sources(store)
    return run(
        "power", *DEMO, *args, "--database-url", database_url, "--warehouse-url", warehouse_url
    )


def test_a_table_json_and_a_plot(store, database_url, demo_warehouse, tmp_path):  # noqa: F811
    plot = tmp_path / "power.png"
    shown = local(
        store,
        database_url,
        demo_warehouse,
        *("--metric-type", "sum", "--value-column", "price_usd", "--cuped-pre-days", "7"),
        *("--weeks", "3", "--plot", str(plot)),
    )
    assert shown.exit_code == 0, shown.stderr
    assert "added_to_cart: power of sum of price_usd in purchases" in shown.stdout
    assert "% CUPED" in shown.stdout and "CUPED 7 days before exposure" in shown.stdout
    pixels = image.imread(plot, format="png")
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    printed = local(
        store,
        database_url,
        demo_warehouse,
        *("--metric-type", "conversion", "--weeks", "2", "--one-sided", "--json"),
    )
    assert printed.exit_code == 0, printed.stderr
    data = json.loads(printed.stdout)["data"]
    assert [d["weeks"] for d in data["durations"]] == [1, 2]
    assert data["durations"][0]["units"] <= data["durations"][1]["units"]
    assert data["inputs"]["alternative"] == "one-sided"
    assert 0 < data["durations"][1]["mean"] <= 1


def test_what_a_user_gets_wrong(store, database_url, demo_warehouse):  # noqa: F811
    ensure_demo_sources(store)
    missing = run(
        "power",
        "added_to_cart",
        "--metric-source",
        "no_such_source",
        "--metric-type",
        "count",
        "--database-url",
        database_url,
        "--warehouse-url",
        demo_warehouse,
    )
    assert missing.exit_code == 1 and "Metric source not found" in missing.stderr
    cuped = local(
        store,
        database_url,
        demo_warehouse,
        *("--metric-type", "mean", "--value-column", "price_usd", "--cuped-pre-days", "7"),
    )
    assert cuped.exit_code == 1
    assert "cuped: CUPED is available for sum, count and conversion" in flat(cuped.stderr)
    no_value = local(store, database_url, demo_warehouse, "--metric-type", "sum")
    assert no_value.exit_code == 1 and "metric.valueColumn: Required" in flat(no_value.stderr)
    hostile = local(
        store,
        database_url,
        demo_warehouse,
        *("--metric-type", "count", "--metric-filter", "1 = (SELECT 1)", "--json"),
    )
    assert hostile.exit_code == 1
    assert json.loads(hostile.stdout)["errors"][0]["property"] == "metricFilter"
    usage = local(store, database_url, demo_warehouse, "--metric-type", "median")
    assert usage.exit_code == 2


def test_options_left_out_are_the_servers_defaults(tmp_path: Path) -> None:
    body = power_body(
        metric_source="purchases",
        metric_type="ratio",
        value_column=None,
        numerator_column="a",
        denominator_column="b",
        weeks=None,
        one_sided=False,
        bonferroni=True,
        cuped_pre_days=None,
        alpha=0.01,
    )
    assert body == {
        "metricSource": "purchases",
        "metric": {"type": "ratio", "numeratorColumn": "a", "denominatorColumn": "b"},
        "bonferroni": True,
        "alpha": 0.01,
    }
