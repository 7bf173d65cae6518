"""[notify]: an email to a real SMTP server on 127.0.0.1 (STARTTLS, login), a JSON POST to a
local HTTP server, secrets from the environment, and a failed message that fails nothing."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from assets_core.automation.clock import ManualClock
from assets_core.automation.notify import message, send
from assets_core.automation.server import Server
from assets_core.errors import ProjectError
from assets_core.model.notify import EmailSettings, NotifySettings, WebhookSettings
from assets_core.model.project import find_project
from assets_core.session import load_project
from tests.assets_core.automation.test_server import _sleeper, _wait

BODY = message(
    project="/p",
    name="nightly",
    kind="schedule",
    tick="2024-01-05T02:00:00Z",
    outcome="failed",
    run_id="r1",
    detail="boom",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def smtp(certificate: tuple[Path, Path]) -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append((session.authenticated, envelope))
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"bot", b"s3cret")
        return AuthResult(success=ok)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    port = _free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    yield port, received
    controller.stop()


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.received.append((dict(self.headers), json.loads(self.rfile.read(length))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[dict[str, str], Any]]]]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def test_an_email_goes_to_a_real_smtp_server_over_starttls_with_a_login_from_the_environment(
    smtp: tuple[int, list[Any]], certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, received = smtp
    monkeypatch.setenv("SMTP_USER", "bot")
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    email = EmailSettings(
        to=("data@shop.test",),
        sender="lumbung@shop.test",
        host="127.0.0.1",
        port=port,
        username_env="SMTP_USER",
        password_env="SMTP_PASSWORD",
        ca_file=str(certificate[0]),
    )
    assert send(NotifySettings(on="failure", email=email), BODY) == []
    [(authenticated, envelope)] = received
    assert authenticated and envelope.rcpt_tos == ["data@shop.test"]
    text = envelope.content.decode()
    assert "Subject: lumbung: schedule nightly failed (2024-01-05T02:00:00Z)" in text
    assert "run_id: r1" in text and "s3cret" not in text
    # success is not announced by on="failure"
    assert send(NotifySettings(on="failure", email=email), {**BODY, "outcome": "success"}) == []
    assert len(received) == 1
    # no server there: one line, no secret in it
    [line] = send(NotifySettings(on="both", email=replace(email, port=_free_port())), BODY)
    assert line.startswith("notify: the email to data@shop.test failed: ConnectionRefusedError")
    assert "s3cret" not in line


def test_a_webhook_gets_the_json_with_its_token_from_the_environment(
    webhook: tuple[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    monkeypatch.setenv("HOOK_URL", url)
    monkeypatch.setenv("HOOK_TOKEN", "t0ken")
    hook = WebhookSettings(url_env="HOOK_URL", token_env="HOOK_TOKEN")
    assert send(NotifySettings(on="both", webhook=hook), BODY) == []
    [(headers, body)] = received
    assert headers["Authorization"] == "Bearer t0ken" and body == BODY
    monkeypatch.delenv("HOOK_TOKEN")
    assert send(NotifySettings(on="both", webhook=hook), BODY) == [
        "notify: the webhook failed: the environment variable HOOK_TOKEN (the webhook's token) "
        "is not set"
    ]


def test_serve_announces_a_run_and_a_failed_message_fails_nothing(
    project: Path, webhook: tuple[str, list[Any]]
) -> None:
    url, received = webhook
    closed = f"http://127.0.0.1:{_free_port()}/hook"
    for target, delivered in ((url, 1), (closed, 0)):
        (project / "lumbung.toml").write_text(
            f'[notify]\non = "both"\n[notify.webhook]\nurl = "{target}"\n'
        )
        shutil.rmtree(project / ".lumbung", ignore_errors=True)
        received.clear()
        with load_project(project) as session:
            lines: list[str] = []
            at = datetime(2024, 3, 5, tzinfo=timezone.utc)
            server = Server(session, ManualClock(at), lines.append, launch=_sleeper(0))  # type: ignore[arg-type]
            server.recover()
            assert "drops" in [x.name for x in server.step(at)]
            _wait(server)
            [tick] = session.state.ticks(names=["drops"])  # type: ignore[attr-defined]
            assert tick.outcome == "success"
        assert len([b for _, b in received if b["name"] == "drops"]) == delivered
        failed = [x for x in lines if "notify: the webhook failed" in x]
        assert bool(failed) == (delivered == 0), lines


def test_a_bad_notify_table_names_the_key_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "lumbung.toml").write_text(
        '[notify]\non = "sometimes"\n[notify.webhook]\nurl = "x"\n'
    )
    with pytest.raises(ProjectError) as caught:
        find_project(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'lumbung.toml'}: notify.on: 'sometimes' is not one of 'failure', "
        "'success', 'both'."
    )
