"""Sending ``[notify]`` messages (``assets_core.model.notify``) when a run ``serve`` started
ends: an email over SMTP (STARTTLS unless turned off, ``smtplib``) and a JSON POST to a webhook.

Secrets (the SMTP password, the webhook's URL or token) are read from the environment
variables the config names, at the moment a message is sent. A message that cannot be sent
is one line in the server's log (``send`` returns the lines) and never changes the run or its
tick; the lines never hold a secret.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

from assets_core.model.notify import EmailSettings, NotifySettings, WebhookSettings

__all__ = ["TIMEOUT_S", "message", "send"]

TIMEOUT_S = 10.0


def message(
    *,
    project: str,
    name: str,
    kind: str,
    tick: str,
    outcome: str,
    run_id: str | None,
    detail: str | None,
) -> dict[str, Any]:
    """What a message says, as the webhook's JSON body."""
    return {
        "project": project,
        "kind": kind,
        "name": name,
        "tick": tick,
        "outcome": outcome,
        "run_id": run_id,
        "detail": detail,
    }


def send(settings: NotifySettings, body: dict[str, Any]) -> list[str]:
    """Send ``body`` by each configured channel when the outcome is wanted; the lines to log
    about a channel that failed (none when all went out)."""
    if not settings.wants(str(body["outcome"])):
        return []
    problems = []
    if settings.email is not None:
        try:
            _email(settings.email, body)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            problems.append(
                f"notify: the email to {', '.join(settings.email.to)} failed: {_why(exc)}"
            )
    if settings.webhook is not None:
        try:
            _webhook(settings.webhook, body)
        except (OSError, ValueError) as exc:
            problems.append(f"notify: the webhook failed: {_why(exc)}")
    return problems


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if type(exc) is ValueError:  # ours: a sentence already
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _env(name: str | None, what: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise ValueError(f"the environment variable {name} ({what}) is not set")
    return value


def _email(settings: EmailSettings, body: dict[str, Any]) -> None:
    mail = EmailMessage()
    mail["Subject"] = f"lumbung: {body['kind']} {body['name']} {body['outcome']} ({body['tick']})"
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.to)
    lines = [f"{key}: {value}" for key, value in body.items() if value is not None]
    mail.set_content("\n".join(lines) + "\n")
    user = _env(settings.username_env, "the SMTP user")
    password = _env(settings.password_env, "the SMTP password")
    with smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_S) as smtp:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
            smtp.ehlo()
        if password is not None:
            smtp.login(user or settings.sender, password)
        smtp.send_message(mail)


def _webhook(settings: WebhookSettings, body: dict[str, Any]) -> None:
    url = settings.url or _env(settings.url_env, "the webhook's URL")
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise ValueError("the webhook's URL must start with http:// or https://")
    headers = {"Content-Type": "application/json"}
    token = _env(settings.token_env, "the webhook's token")
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        response.read()
