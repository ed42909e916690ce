"""Signing in to the console: the form, the session cookie, CSRF, sign out, idle expiry,
revoked keys, and the line between the console's HTML paths and the API's JSON ones."""

from __future__ import annotations

from datetime import timedelta

from qualevents.console.auth import SESSION_COOKIE
from qualevents.keys import KeyService, hash_secret
from qualevents.store.engine import utc_now
from tests.console.conftest import Browser


def test_the_root_sends_a_stranger_to_sign_in_and_a_signed_in_browser_to_the_sources(
    anonymous: Browser, keys
):
    assert anonymous.get("/", follow_redirects=False).headers["location"] == "/sign-in"
    page = anonymous.get("/sources", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in?next=%2Fsources"
    anonymous.sign_in(keys["full_secret"])
    assert anonymous.get("/", follow_redirects=False).headers["location"] == "/sources"


def test_sign_in_page_is_a_labelled_form_with_a_csrf_token(anonymous: Browser):
    page = anonymous.get("/sign-in")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<label for="key">Console key</label>' in page.text
    assert 'type="password"' in page.text
    assert 'name="csrf_token"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_sign_in_sets_an_httponly_strict_session_cookie_and_goes_where_asked(
    anonymous: Browser, keys
):
    answer = anonymous.sign_in(keys["full_secret"], next_url="/audit")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/audit"
    cookie = next(
        value
        for name, value in answer.headers.multi_items()
        if name == "set-cookie" and value.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP
    assert keys["full_secret"] not in cookie
    page = anonymous.get("/audit")
    assert page.status_code == 200
    assert "alice" in page.text
    assert keys["full_secret"] not in page.text


def test_the_cookie_is_secure_behind_an_https_proxy(anonymous: Browser, keys):
    token = anonymous.token("/sign-in")
    answer = anonymous.http.post(
        "/sign-in",
        data={"csrf_token": token, "key": keys["full_secret"]},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    cookies = [v for n, v in answer.headers.multi_items() if n == "set-cookie"]
    assert any(c.startswith(SESSION_COOKIE + "=") and "Secure" in c for c in cookies)


def test_a_wrong_key_is_refused_without_echoing_it(anonymous: Browser, keys):
    wrong = "console-" + "x" * 40
    answer = anonymous.sign_in(wrong)
    assert answer.status_code == 401
    assert "That is not an active console key." in answer.text
    assert wrong not in answer.text
    assert "xxx" not in answer.text
    assert anonymous.get("/sources", follow_redirects=False).status_code == 303


def test_sign_in_without_the_forms_token_is_refused(anonymous: Browser, keys):
    anonymous.get("/sign-in")
    answer = anonymous.http.post(
        "/sign-in",
        data={"csrf_token": "forged", "key": keys["full_secret"]},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert anonymous.get("/sources", follow_redirects=False).status_code == 303


def test_next_cannot_leave_the_console(anonymous: Browser, keys):
    for target in ("//evil.example/", "https://evil.example/", "/console/v1/audit_logs"):
        answer = anonymous.sign_in(keys["full_secret"], next_url=target)
        assert answer.headers["location"] == "/sources", target
        anonymous.http.cookies.clear()


def test_sign_out_ends_the_session_and_needs_the_token(browser: Browser):
    refused = browser.http.post("/sign-out", data={"csrf_token": "nope"}, follow_redirects=False)
    assert refused.status_code == 403
    assert browser.get("/sources").status_code == 200
    old_cookie = browser.http.cookies.get(SESSION_COOKIE)
    answer = browser.post("/sign-out", {})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?signed_out=1"
    assert browser.get("/sources", follow_redirects=False).status_code == 303
    # the old cookie, replayed, is dead too
    browser.http.cookies.set(SESSION_COOKIE, old_cookie)
    assert browser.get("/sources", follow_redirects=False).status_code == 303


def test_a_revoked_keys_session_stops_at_once(browser: Browser, keys, store):
    assert browser.get("/sources").status_code == 200
    KeyService(store).revoke(keys["full"].id)
    page = browser.get("/sources", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/sign-in")
    answer = browser.http.post(
        "/sources/qualifying_event/-/new", data={"name": "x"}, follow_redirects=False
    )
    assert answer.status_code == 401
    assert "Your session has ended" in answer.text


def test_a_session_idle_for_longer_than_the_setting_expires(browser: Browser, store):
    token_hash = hash_secret(browser.http.cookies[SESSION_COOKIE])
    store.touch_console_session(token_hash, utc_now() - timedelta(hours=11))
    assert browser.get("/sources").status_code == 200  # 11 h idle: still in (12 h default)
    store.touch_console_session(token_hash, utc_now() - timedelta(hours=12, minutes=1))
    assert browser.get("/sources", follow_redirects=False).status_code == 303
    assert store.get_console_session(token_hash) is None


def test_the_session_never_opens_the_api(browser: Browser):
    answer = browser.get("/console/v1/experiments/qualifying_events")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/json"


def test_console_paths_answer_html_and_api_paths_json(anonymous: Browser, browser: Browser):
    page = browser.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text
    ghost = browser.get("/sources/qualifying_event/ghost")
    assert ghost.status_code == 404
    assert "text/html" in ghost.headers["content-type"]
    assert "ghost" in ghost.text
    unknown_kind = browser.get("/sources/widgets/x")
    assert unknown_kind.status_code == 404
    api = browser.get("/-/nothing")
    assert api.status_code == 404
    assert api.json()["errors"]
    assert browser.get("/-/health").json()["status"] == "ok"
    assert browser.get("/openapi.json").status_code == 200
    assert "/sources" not in browser.get("/openapi.json").json()["paths"]
    wrong_method = browser.get("/sign-out")
    assert wrong_method.status_code == 405
    assert "text/html" in wrong_method.headers["content-type"]


def test_static_files_are_served_from_the_package(anonymous: Browser):
    css = anonymous.get("/static/console.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
    assert anonymous.get("/static/console.js").status_code == 200
