"""Permission checks for JavaScript steps, made in the parent process (scripts never touch the resources)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit, urlunsplit

from wfe_yaml.js.config import JsPermissions

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARACTERS = re.compile(r"^[a-z0-9._:-]+$")


class PermissionDenied(Exception):
    """A script asked for something its permissions do not grant; the message is what the script sees."""

    def __init__(self, kind: str, resource: str) -> None:
        self.kind = kind
        self.resource = resource
        super().__init__(f"Permission denied: {kind} access to '{resource}'")


def parse_http_url(url: str) -> tuple[SplitResult, str, int]:
    """The split URL, its lower-case host name and its port; ``ValueError`` when it is not an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"Invalid URL '{url}': {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"Invalid URL '{url}': only http and https URLs can be fetched")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"URL '{url}' has no host")
    if not _HOST_CHARACTERS.match(host):
        raise ValueError(f"Invalid URL '{url}': unsupported characters in host '{host}'")
    return parts, host, port if port is not None else _DEFAULT_PORTS[scheme]


def normalized_http_url(url: str) -> str:
    """The URL rebuilt from its parsed parts, so the HTTP client connects to exactly the host that was checked."""
    parts, host, _ = parse_http_url(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"Invalid URL '{url}': credentials in URLs are not supported, send an Authorization header"
        )
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def net_resource(url: str) -> str:
    """How a denial names the URL's host: ``host`` or ``host:port`` as written in the URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        explicit = parts.port
    except ValueError:
        explicit = None
    return f"{host}:{explicit}" if explicit is not None else host


def check_net(url: str, allow: list[str]) -> None:
    """Raise ``PermissionDenied`` unless the URL's host (and port) is in ``allow``.

    Entries are ``host`` (any port) or ``host:port``. Host names are compared exactly after parsing, so
    ``localhost`` does not allow ``127.0.0.1`` (nor the reverse), and an IP address is reachable only when
    that address is listed.
    """
    _, host, port = parse_http_url(url)
    for entry in allow:
        allowed_host, allowed_port = _parse_net_entry(entry)
        if allowed_host == host and (allowed_port is None or allowed_port == port):
            return
    raise PermissionDenied("net", net_resource(url))


def _parse_net_entry(entry: str) -> tuple[str, int | None]:
    text = entry.strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        port = parts.port
    except ValueError:
        return "", None
    return (parts.hostname or "").lower(), port


def check_read(path: str, allow: list[str]) -> str:
    """The real path to read, or ``PermissionDenied`` unless it lies under a ``read`` entry.

    Any ``..`` component is refused outright; then symbolic links are resolved (on both sides) before the
    comparison, so a link inside an allowed directory cannot lead outside it.
    """
    if not path or "\0" in path:
        raise PermissionDenied("read", path)
    if ".." in path.replace("\\", "/").split("/"):
        raise PermissionDenied("read", path)
    real = os.path.realpath(path)
    for entry in allow:
        base = os.path.realpath(entry)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return real
    raise PermissionDenied("read", path)


def visible_env(permissions: JsPermissions, config_env: Mapping[str, str]) -> dict[str, str | None]:
    """What a script may see through ``Deno.env``/``Wfe.env``: allow-listed host variables, then the config.

    An allow-listed variable that is unset maps to None (the script sees ``undefined``); other names are
    denied.
    """
    visible: dict[str, str | None] = {name: os.environ.get(name) for name in permissions.env}
    visible.update(config_env)
    return visible
