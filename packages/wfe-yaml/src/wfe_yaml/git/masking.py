"""Hiding credentials: a URL's ``user:password@`` part and known secret values never reach logs or errors."""

from __future__ import annotations

import re
from collections.abc import Iterable

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
MASK = "***"


def mask_url(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced: ``https://user:token@host/x`` becomes
    ``https://***@host/x``."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def without_credentials(url: str) -> str:
    """``url`` without its ``user[:password]@`` part."""
    return _USERINFO.sub(lambda m: m["scheme"], url)


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a ``user[:password]@`` part."""
    return _USERINFO.match(url) is not None


class Masker:
    """Masks URL credentials and the given secret values (a token read from the environment) in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret containing another is masked whole; short values would mask noise
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = mask_url(text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text
