"""The ``memory://`` URL every in-memory provider accepts."""

from __future__ import annotations

from urllib.parse import urlsplit

from wfe_core.errors import ProviderError


def check_memory_url(url: str, provider: str) -> None:
    """Raise ``ProviderError`` unless ``url`` has the ``memory`` scheme (``memory://`` or ``memory:``)."""
    scheme = urlsplit(url).scheme
    if scheme != "memory":
        raise ProviderError(
            f"{provider} only handles 'memory://' URLs, got '{url}': use 'memory://', or the provider for "
            f"scheme '{scheme}'"
        )
