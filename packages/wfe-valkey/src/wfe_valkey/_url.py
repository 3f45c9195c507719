"""Connection URLs: ``valkey://``/``valkeys://`` become the ``redis://``/``rediss://`` redis-py reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from wfe_core.errors import ConfigurationError

_SCHEMES = {"redis": "redis", "rediss": "rediss", "valkey": "redis", "valkeys": "rediss"}

#: Query parameters read by wfe rather than by redis-py (``redis://host/0?prefix=shop``).
WFE_QUERY_OPTIONS = frozenset(
    {"prefix", "visibility_timeout", "retry_timeout", "reply_timeout", "health_check_interval"}
)


@dataclass(frozen=True, slots=True)
class ValkeyUrl:
    """A parsed connection URL.

    ``redis_url`` is what redis-py connects to (scheme mapped, wfe's own query options removed); ``options``
    holds those wfe options as strings.
    """

    redis_url: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return self.redis_url.startswith("rediss://")


def parse_valkey_url(url: str) -> ValkeyUrl:
    """Map ``valkey://``/``valkeys://`` to ``redis://``/``rediss://`` and split off wfe's query options.

    Raises:
        ConfigurationError: the scheme is none of ``redis``, ``rediss``, ``valkey``, ``valkeys``.
    """
    parts = urlsplit(url)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ConfigurationError(
            f"unsupported URL scheme '{parts.scheme}' in {url!r}: "
            "use redis://, rediss:// (TLS), valkey:// or valkeys:// (TLS)"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {key: value for key, value in query if key in WFE_QUERY_OPTIONS}
    rest = [(key, value) for key, value in query if key not in WFE_QUERY_OPTIONS]
    redis_url = urlunsplit((scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment))
    return ValkeyUrl(redis_url=redis_url, options=options)
