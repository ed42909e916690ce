"""The CLI in process (typer's CliRunner): keys created by ``keys create`` are printed on the
last line and accepted by the service on the same database; revoked keys are refused."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from qualevents.cli import app
from qualevents.errors import Unauthorized
from qualevents.keys import KeyService
from qualevents.store import open_store
from tests.conftest import seen_by

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args), env={"QUALEVENTS_DATABASE_URL": "sqlite:///unused"})
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def create_key(database_url: str, *extra: str) -> str:
    result = invoke("keys", "create", "--name", "cli test", "--database-url", database_url, *extra)
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("console-")
    return secret


def test_keys_create_prints_a_key_the_service_accepts(store, database_url):
    secret = create_key(database_url)
    reopened = open_store(database_url)
    try:
        key = KeyService(reopened).authenticate(secret)
    finally:
        reopened.close()
    assert key.name == "cli test" and key.can_write


def test_read_only_key(store, database_url):
    secret = create_key(database_url, "--read-only")
    assert not KeyService(store).authenticate(secret).can_write


def test_keys_list_shows_ids_not_secrets(store, database_url):
    secret = create_key(database_url)
    listed = invoke("keys", "list", "--database-url", database_url).stdout
    [key] = KeyService(store).list()
    assert key.id in listed
    assert secret not in listed and secret[len("console-") :] not in listed


def test_keys_revoke_makes_the_key_unusable(store, database_url):
    secret = create_key(database_url)
    key = KeyService(store).authenticate(secret)
    with seen_by(store):
        refused = runner.invoke(app, ["keys", "revoke", key.id, "--database-url", database_url])
        assert refused.exit_code == 2 and "--yes" in refused.stderr  # stdin is no terminal
        KeyService(store).authenticate(secret, fresh=True)  # still valid
        invoke("keys", "revoke", key.id, "--yes", "--database-url", database_url)
        # A mutation's check reads the key fresh: refused at once, on every backend.
        with pytest.raises(Unauthorized):
            KeyService(store).authenticate(secret, fresh=True)
    with pytest.raises(Unauthorized):
        KeyService(store).authenticate(secret)


def test_revoking_an_unknown_key_fails_clearly(store, database_url):
    result = runner.invoke(app, ["keys", "revoke", "key-nope", "--database-url", database_url])
    assert result.exit_code == 1
    assert "key-nope" in result.stderr


def test_an_invalid_database_url_fails_without_a_traceback(tmp_path):
    result = runner.invoke(app, ["keys", "create", "--database-url", "mysql://x/y"])
    assert result.exit_code != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert "database" in (result.stdout + result.stderr).lower()


def test_db_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = invoke("db", "upgrade", "--database-url", url)
    assert "revision" in result.stdout
    store = open_store(url, migrate=False)
    try:
        assert store.list_keys() == []
    finally:
        store.close()


def test_version():
    from qualevents import __version__

    assert invoke("--version").stdout.strip() == f"qualevents {__version__}"


def test_keys_as_json(store, database_url):
    import json

    created = json.loads(invoke("keys", "create", "--json", "--database-url", database_url).stdout)
    assert created["secret"].startswith("console-") and created["kind"] == "full_access"
    listed = json.loads(invoke("keys", "list", "--json", "--database-url", database_url).stdout)
    assert [key["id"] for key in listed] == [created["id"]]
    assert "secret" not in listed[0]
    revoked = invoke(
        "keys", "revoke", created["id"], "-y", "--json", "--database-url", database_url
    )
    assert json.loads(revoked.stdout)["revokedAt"] is not None


def test_a_confirmation_at_a_terminal(store, database_url, monkeypatch):
    from qualevents.cli import common

    secret = create_key(database_url)
    key = KeyService(store).authenticate(secret)
    monkeypatch.setattr(common, "stdin_is_terminal", lambda: True)
    answered_no = runner.invoke(
        app, ["keys", "revoke", key.id, "--database-url", database_url], input="n\n"
    )
    assert answered_no.exit_code == 1
    with seen_by(store):
        answered_yes = runner.invoke(
            app, ["keys", "revoke", key.id, "--database-url", database_url], input="y\n"
        )
    assert answered_yes.exit_code == 0, answered_yes.stderr
