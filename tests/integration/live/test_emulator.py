"""The runtime emulator behaves like the runtime wherever the probes look, and says what it is."""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from livelab import EMULATOR, Emulator, make_app, start_emulator, stop

from mxguard.discovery.processes import find_runtime_processes
from mxguard.lab.emulator import EMULATOR_HEADER


def _request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, list[str]], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        seen: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            seen.setdefault(name.lower(), []).append(value)
        return response.status, seen, response.read()
    finally:
        connection.close()


def _admin(
    emulator: Emulator, action: object, password: str | None, **headers: str
) -> tuple[int, dict[str, object]]:
    sent = {"Content-Type": "application/json", **headers}
    if password is not None:
        sent["X-M2EE-Authentication"] = base64.b64encode(password.encode()).decode()
    body = action if isinstance(action, bytes) else json.dumps(action).encode()
    status, _, reply = _request(emulator.admin_port, "POST", "/", body, sent)
    return status, json.loads(reply)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    started = start_emulator(make_app(tmp_path), admin_pass="s3cret-admin")
    yield started
    stop(started.process)


def test_it_announces_itself_as_an_emulator(emulator: Emulator) -> None:
    assert "not a Mendix runtime" in emulator.banner
    _, headers, _ = _request(emulator.runtime_port, "GET", "/")
    assert headers[EMULATOR_HEADER.lower()] == ["mxguard-lab"]


def test_cookies_are_secure_and_prefixed_only_behind_an_https_proxy(emulator: Emulator) -> None:
    _, plain, _ = _request(emulator.runtime_port, "POST", "/xas/", b"{}")
    _, secure, _ = _request(
        emulator.runtime_port, "POST", "/xas/", b"{}", {"X-Forwarded-Proto": "https"}
    )
    _, scheme, _ = _request(
        emulator.runtime_port, "POST", "/xas/", b"{}", {"X-Forwarded-Scheme": "https"}
    )

    assert all("Secure" not in c for c in plain["set-cookie"])
    assert plain["set-cookie"][0].startswith("XASSESSIONID=")
    for cookies in (secure["set-cookie"], scheme["set-cookie"]):
        assert all(c.endswith("; Secure") for c in cookies)
        assert cookies[0].startswith("__Host-XASSESSIONID=")


def test_static_files_come_from_the_web_folder(emulator: Emulator) -> None:
    status, headers, body = _request(emulator.runtime_port, "GET", "/index.html")
    missing, _, _ = _request(emulator.runtime_port, "GET", "/../../etc/passwd")

    assert status == 200 and b"<title>shop</title>" in body and headers["etag"]
    assert missing == 404


def test_the_admin_api_answers_with_the_runtimes_result_codes(emulator: Emulator) -> None:
    ping = {"action": "echo", "params": {"echo": "ping"}}
    assert _admin(emulator, ping, "s3cret-admin") == (
        200,
        {"result": 0, "feedback": {"echo": "pong"}},
    )
    status, about = _admin(emulator, {"action": "about"}, "s3cret-admin")
    assert status == 200 and about["feedback"]["version"]  # type: ignore[index]
    status, state = _admin(emulator, {"action": "runtime_status"}, "s3cret-admin")
    assert state["feedback"] == {"status": "running"}

    assert _admin(emulator, ping, None)[1]["result"] == -4
    assert _admin(emulator, ping, "wrong")[1]["result"] == -4
    assert _admin(emulator, {"action": "no_such"}, "s3cret-admin")[1]["result"] == -5
    assert _admin(emulator, b"{not json", "s3cret-admin")[1]["result"] == -6
    wrong_type = _admin(emulator, ping, "s3cret-admin", **{"Content-Type": "text/plain"})
    assert wrong_type[1]["result"] == -2
    status, _, reply = _request(emulator.admin_port, "GET", "/")
    assert json.loads(reply)["result"] == -3


@pytest.fixture
def account() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("creating an account needs root")
    name = f"mxgemu{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--system", "--no-create-home", name], check=True, timeout=30)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, timeout=30)


def test_it_runs_as_another_account_and_the_host_collector_recognises_it(account: str) -> None:
    # Given a copy of the emulator and a project where the other account can read them
    folder = Path(tempfile.mkdtemp(prefix="mxguard-emulator-"))
    try:
        folder.chmod(0o755)
        emulator_copy = folder / "emulator.py"
        shutil.copy(EMULATOR, emulator_copy)
        emulator_copy.chmod(0o644)
        app_base = make_app(folder)

        # When it is started as that account with the system Python, outside the venv
        started = start_emulator(app_base, emulator=emulator_copy, user=account)
        try:
            processes, _ = find_runtime_processes()
        finally:
            stop(started.process)
    finally:
        shutil.rmtree(folder)

    # Then the host collector sees a Mendix 7+ runtime of that account with its ports
    (found,) = [p for p in processes if p.pid == started.process.pid]
    assert found.user == account and found.generation == "launcher"
    assert found.app_base == str(app_base)
    assert found.environment is not None
    assert found.environment["M2EE_ADMIN_PORT"] == str(started.admin_port)
