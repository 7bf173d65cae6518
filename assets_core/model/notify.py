"""``[notify]`` in the project config: who hears about the runs ``lumbung serve`` starts.

```toml
[notify]
on = "failure"                      # or "success", or "both"
[notify.email]
to = ["data@shop.test"]
from = "lumbung@shop.test"
host = "smtp.shop.test"
port = 587                          # STARTTLS (the default); starttls = false for none
username_env = "SMTP_USER"          # names of environment variables, never the secrets
password_env = "SMTP_PASSWORD"
[notify.webhook]
url_env = "LUMBUNG_WEBHOOK_URL"     # or url = "https://..." when the URL is no secret
token_env = "LUMBUNG_WEBHOOK_TOKEN" # sent as "Authorization: Bearer ..."
```

Secrets are read from the environment when a message is sent (``assets_core.automation.
notify``), so they are never in the project's files, the state store or the logs. Every
problem is a ``ValueError`` naming the key and the fix (the project loader words it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["EmailSettings", "NotifySettings", "WebhookSettings", "parse_notify"]

WHEN = ("failure", "success", "both")


@dataclass(frozen=True, slots=True)
class EmailSettings:
    to: tuple[str, ...]
    sender: str
    host: str
    port: int = 587
    starttls: bool = True
    username_env: str | None = None
    password_env: str | None = None
    ca_file: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    url: str | None = None
    url_env: str | None = None
    token_env: str | None = None


@dataclass(frozen=True, slots=True)
class NotifySettings:
    on: str = "failure"
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None

    def wants(self, outcome: str) -> bool:
        """Whether a run that ended ``outcome`` (``success``, ``failed``, ``interrupted``)
        is announced."""
        if outcome == "success":
            return self.on in ("success", "both")
        return self.on in ("failure", "both")


def _text(table: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}.{key}: must be a non-empty string, got {value!r}.")
    return value


def _known(table: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in keys:
            raise ValueError(f"{where}.{key}: unknown key; valid keys are {', '.join(keys)}.")


def parse_notify(raw: object) -> NotifySettings:
    """The ``[notify]`` table as settings; ``ValueError`` naming the key and the fix."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"notify: must be a table, got {raw!r}; write it as a [notify] section.")
    _known(raw, ("on", "email", "webhook"), "notify")
    on = raw.get("on", "failure")
    if on not in WHEN:
        raise ValueError(f"notify.on: {on!r} is not one of 'failure', 'success', 'both'.")
    email = None
    if "email" in raw:
        e = raw["email"]
        where = "notify.email"
        if not isinstance(e, Mapping):
            raise ValueError(f"{where}: must be a table ([notify.email]).")
        keys = ("to", "from", "host", "port", "starttls", "username_env", "password_env")
        _known(e, (*keys, "ca_file"), where)
        to = e.get("to")
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to or not all(isinstance(x, str) and x for x in to):
            raise ValueError(f'{where}.to: give a list of addresses, e.g. ["data@shop.test"].')
        port = e.get("port", 587)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ValueError(f"{where}.port: must be a port number, got {port!r}.")
        starttls = e.get("starttls", True)
        if not isinstance(starttls, bool):
            raise ValueError(f"{where}.starttls: must be true or false, got {starttls!r}.")
        email = EmailSettings(
            to=tuple(to),
            sender=_text(e, "from", where, required=True) or "",
            host=_text(e, "host", where, required=True) or "",
            port=port,
            starttls=starttls,
            username_env=_text(e, "username_env", where),
            password_env=_text(e, "password_env", where),
            ca_file=_text(e, "ca_file", where),
        )
    webhook = None
    if "webhook" in raw:
        w = raw["webhook"]
        where = "notify.webhook"
        if not isinstance(w, Mapping):
            raise ValueError(f"{where}: must be a table ([notify.webhook]).")
        _known(w, ("url", "url_env", "token_env"), where)
        url, url_env = _text(w, "url", where), _text(w, "url_env", where)
        if (url is None) == (url_env is None):
            raise ValueError(
                f"{where}: give exactly one of url (the address) or url_env (the name of an "
                "environment variable holding it)."
            )
        webhook = WebhookSettings(url=url, url_env=url_env, token_env=_text(w, "token_env", where))
    if email is None and webhook is None:
        raise ValueError("notify: give [notify.email], [notify.webhook] or both.")
    return NotifySettings(on=str(on), email=email, webhook=webhook)
