"""Test service URLs: skip locally when one is missing, fail under CI."""

from __future__ import annotations

import os

import pytest


def service_url(env_var: str, *, why: str = "", required_in_ci: bool = True) -> str:
    """The URL in ``env_var``; skips the test when unset locally, fails it when ``CI`` is set.

    Args:
        env_var: e.g. ``WFE_TEST_POSTGRES_URL``.
        why: extra reason shown when skipping (e.g. "OpenSearch cannot run on this machine").
        required_in_ci: False for services CI machines cannot run (the test then skips under CI too).
    """
    url = os.environ.get(env_var, "").strip()
    if url:
        return url
    message = f"{env_var} is not set" + (f" ({why})" if why else "")
    if required_in_ci and os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{message}: under CI every service test must run", pytrace=False)
    pytest.skip(message)
