"""Building the provider from URLs and options, and its discovery through entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest

from wfe_core.protocols import SearchIndex
from wfe_opensearch import DEFAULT_INDEX, OpenSearchIndex


def transport_settings(provider: OpenSearchIndex) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The node list and connection options the client was built with."""
    transport = provider.client.transport
    return transport.hosts, transport.kwargs


@pytest.mark.parametrize(
    ("url", "node", "use_ssl"),
    [
        ("opensearch://search.local", {"host": "search.local", "port": 9200}, False),
        ("http://search.local:9201", {"host": "search.local", "port": 9201}, False),
        ("https://search.local", {"host": "search.local", "port": 9200}, True),
        ("HTTPS://Search.Local:443/", {"host": "search.local", "port": 443}, True),
        (
            "http://proxy.local/opensearch/",
            {"host": "proxy.local", "port": 9200, "url_prefix": "opensearch"},
            False,
        ),
    ],
)
async def test_url_gives_node_port_prefix_and_tls(url: str, node: dict[str, Any], use_ssl: bool) -> None:
    provider = OpenSearchIndex.from_url(url)
    try:
        hosts, options = transport_settings(provider)
        assert hosts == [node]
        assert options["use_ssl"] is use_ssl
        assert "http_auth" not in options
    finally:
        await provider.stop()


async def test_credentials_in_the_url_become_basic_auth() -> None:
    provider = OpenSearchIndex.from_url("https://ad%40min:p%3Ass@search.local")
    try:
        assert transport_settings(provider)[1]["http_auth"] == ("ad@min", "p:ss")
    finally:
        await provider.stop()


async def test_index_name_default_url_option_and_keyword() -> None:
    default = OpenSearchIndex.from_url("http://localhost")
    from_url = OpenSearchIndex.from_url("http://localhost?index=team-a")
    keyword = OpenSearchIndex.from_url("http://localhost?index=team-a", index="team-b")
    try:
        assert default.alias == DEFAULT_INDEX == "wfe-workflows"
        assert default.concrete_index == "wfe-workflows-v1"
        assert from_url.alias == "team-a"
        assert keyword.alias == "team-b"
    finally:
        for provider in (default, from_url, keyword):
            await provider.stop()


async def test_tls_options_reach_the_connection() -> None:
    provider = OpenSearchIndex.from_url("https://search.local", verify_certs=False, ca_certs="/etc/ca.pem")
    plain = OpenSearchIndex.from_url("http://search.local", verify_certs=False)
    try:
        options = transport_settings(provider)[1]
        assert (options["verify_certs"], options["ca_certs"]) == (False, "/etc/ca.pem")
        # TLS options mean nothing over plain HTTP and are not passed on.
        assert "verify_certs" not in transport_settings(plain)[1]
    finally:
        await provider.stop()
        await plain.stop()


async def test_extra_options_are_passed_to_the_client() -> None:
    provider = OpenSearchIndex.from_url("http://search.local", timeout=3, http_compress=True)
    try:
        options = transport_settings(provider)[1]
        assert (options["timeout"], options["http_compress"]) == (3, True)
    finally:
        await provider.stop()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://search.local", "use opensearch://, http:// or https://"),
        ("http://", "names no host"),
        ("http://search.local:notaport", "invalid port"),
        ("http://search.local?shards=3", "only \\?index=NAME is understood"),
    ],
)
def test_bad_urls_name_the_fix(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpenSearchIndex.from_url(url)


@pytest.mark.parametrize("name", ["Upper", "_hidden", "with space", "a/b", "a*", ""])
async def test_invalid_index_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid OpenSearch index name"):
        OpenSearchIndex.from_url("http://localhost", index=name)


async def test_provider_satisfies_the_search_index_protocol() -> None:
    provider = OpenSearchIndex.from_url("http://localhost")
    try:
        assert isinstance(provider, SearchIndex)
    finally:
        await provider.stop()


@pytest.mark.parametrize("scheme", ["opensearch", "http", "https"])
def test_registered_as_search_provider_for_its_schemes(scheme: str) -> None:
    [entry] = [e for e in entry_points(group="wfe.search") if e.name == scheme]
    assert entry.load() is OpenSearchIndex
