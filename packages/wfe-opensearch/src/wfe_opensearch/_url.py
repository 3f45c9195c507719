"""Connection URLs: ``opensearch://``, ``http://`` and ``https://``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from wfe_core.errors import ConfigurationError

DEFAULT_PORT = 9200

_SCHEMES = {"opensearch": False, "http": False, "https": True}


@dataclass(frozen=True)
class ConnectionSettings:
    """What a URL says about how to reach the server."""

    host: str
    port: int
    use_ssl: bool
    url_prefix: str = ""
    username: str | None = None
    password: str | None = None
    index: str | None = None

    def client_options(self) -> dict[str, object]:
        """Keyword arguments for ``AsyncOpenSearch`` (hosts, TLS flag, basic auth)."""
        node: dict[str, object] = {"host": self.host, "port": self.port}
        if self.url_prefix:
            node["url_prefix"] = self.url_prefix
        options: dict[str, object] = {"hosts": [node], "use_ssl": self.use_ssl}
        if self.username is not None:
            options["http_auth"] = (self.username, self.password or "")
        return options


def parse_url(url: str) -> ConnectionSettings:
    """Split ``scheme://[user:password@]host[:port][/prefix][?index=name]``.

    ``opensearch://`` is plain HTTP (like ``http://``); use ``https://`` for TLS. The port defaults to 9200.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"unsupported OpenSearch URL scheme {parts.scheme!r} in {url!r}: use opensearch://, http:// or https://"
        )
    if not parts.hostname:
        raise ConfigurationError(f"OpenSearch URL {url!r} names no host: use e.g. http://localhost:9200")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ConfigurationError(f"OpenSearch URL {url!r} has an invalid port: {exc}") from exc
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"index"})
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(unknown)} in OpenSearch URL: only ?index=NAME is understood"
        )
    return ConnectionSettings(
        host=parts.hostname,
        port=port,
        use_ssl=_SCHEMES[scheme],
        url_prefix=parts.path.strip("/"),
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        index=query["index"][-1] if "index" in query else None,
    )
