"""poll_endpoint's configuration without a host: the missing extra, masked credentials."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from wfe_core.errors import MissingExtraError
from wfe_core.primitives import JsonPathCondition, PollEndpointConfig
from wfe_core.primitives.poll_endpoint import masked_url


def test_without_the_http_client_the_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "aiohttp" else real(name))
    with pytest.raises(MissingExtraError) as caught:
        PollEndpointConfig.create("http://127.0.0.1/health")
    assert 'pip install "wfe[http]"' in str(caught.value)
    assert caught.value.extra == "http"


def test_without_the_jsonpath_library_the_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jsonpath", None)  # what an uninstalled module looks like to import
    with pytest.raises(MissingExtraError, match=r'JSONPath conditions .*pip install "wfe\[http\]"'):
        JsonPathCondition("$.status == 'ready'")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:secret@example.com/x?y=1", "https://***@example.com/x?y=1"),
        ("https://token@example.com/x", "https://***@example.com/x"),
        ("http://127.0.0.1:8080/health", "http://127.0.0.1:8080/health"),
    ],
)
def test_credentials_in_urls_are_masked(url: str, shown: str) -> None:
    assert masked_url(url) == shown
