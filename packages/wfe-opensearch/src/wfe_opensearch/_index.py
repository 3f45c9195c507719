"""``OpenSearchIndex``: the ``SearchIndex`` protocol on OpenSearch."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    ImproperlyConfigured,
    NotFoundError,
    OpenSearchException,
    RequestError,
)
from opensearchpy.exceptions import (
    ConnectionError as TransportConnectionError,
)

from wfe_core.errors import ConfigurationError, SearchError
from wfe_core.models import Page, SearchFilter, WorkflowInstance, WorkflowSearchResult
from wfe_opensearch._document import build_document
from wfe_opensearch._mapping import MAPPING, MAPPING_VERSION, SETTINGS
from wfe_opensearch._query import build_search_body
from wfe_opensearch._results import page_from_response
from wfe_opensearch._url import parse_url

DEFAULT_INDEX = "wfe-workflows"

_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")

Refresh = bool | Literal["wait_for"]


class OpenSearchIndex:
    """Indexes workflow instances in OpenSearch and answers searches.

    ``index`` is the alias the provider reads and writes; the concrete index is ``{index}-v1`` (the mapping
    version), created by :meth:`start` together with the alias. ``refresh`` is passed to every indexing
    request: ``False`` (the default) lets OpenSearch make documents searchable on its refresh interval
    (about a second), ``"wait_for"`` returns once they are searchable, ``True`` forces a refresh (tests only:
    it is expensive).

    Every failure raises :class:`wfe_core.errors.SearchError` with the opensearch-py error as ``__cause__``.
    """

    def __init__(
        self,
        client: AsyncOpenSearch,
        *,
        index: str = DEFAULT_INDEX,
        refresh: Refresh = False,
        owns_client: bool = False,
    ) -> None:
        """Use an existing client; ``owns_client=True`` makes :meth:`stop` close it."""
        if not _INDEX_NAME.fullmatch(index) or len(index) > 200:
            raise ConfigurationError(
                f"invalid OpenSearch index name {index!r}: use lowercase letters, digits, '-', '_' and '.', "
                "starting with a letter or digit, at most 200 characters"
            )
        self._client = client
        self._alias = index
        self._refresh = refresh
        self._owns_client = owns_client
        self._stopped = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        index: str | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        refresh: Refresh = False,
        **client_options: Any,
    ) -> OpenSearchIndex:
        """A provider for ``opensearch://``, ``http://`` or ``https://[user:password@]host[:port][?index=NAME]``.

        Args:
            url: the server; ``opensearch://`` is plain HTTP, ``https://`` uses TLS. The port defaults to
                9200.
            index: the alias name (default ``wfe-workflows``); wins over ``?index=`` in the URL.
            verify_certs: check the server's TLS certificate (https only).
            ca_certs: path to a CA bundle that signed the server's certificate.
            refresh: see the class docstring.
            client_options: passed on to ``opensearchpy.AsyncOpenSearch`` (e.g. ``timeout``,
                ``http_compress``).
        """
        settings = parse_url(url)
        options: dict[str, Any] = settings.client_options()
        if settings.use_ssl:
            options["verify_certs"] = verify_certs
            if ca_certs is not None:
                options["ca_certs"] = ca_certs
        options.update(client_options)
        client = AsyncOpenSearch(**options)
        return cls(
            client,
            index=index if index is not None else settings.index or DEFAULT_INDEX,
            refresh=refresh,
            owns_client=True,
        )

    @property
    def client(self) -> AsyncOpenSearch:
        """The opensearch-py client (for administration the protocol does not cover)."""
        return self._client

    @property
    def alias(self) -> str:
        """The name searches and writes go to: an alias of :attr:`concrete_index`."""
        return self._alias

    @property
    def concrete_index(self) -> str:
        """The index holding the documents, named after the mapping version."""
        return f"{self._alias}-v{MAPPING_VERSION}"

    async def start(self) -> None:
        """Create the versioned index and its alias when the alias is missing. Idempotent, safe from many
        hosts at once."""
        self._stopped = False
        with self._errors("start"):
            if await self._client.indices.exists_alias(name=self._alias):
                return
            body = {"settings": SETTINGS, "mappings": MAPPING, "aliases": {self._alias: {}}}
            try:
                await self._client.indices.create(index=self.concrete_index, body=body)
            except RequestError as exc:
                if exc.error == "invalid_alias_name_exception":
                    raise SearchError(
                        f"an index named {self._alias!r} exists, so the alias of that name cannot be "
                        "created: delete that index or choose another index name"
                    ) from exc
                if exc.error != "resource_already_exists_exception":
                    raise
                # Another host created the index first; make sure the alias is there too.
                await self._client.indices.put_alias(index=self.concrete_index, name=self._alias)

    async def stop(self) -> None:
        """Close the client if this provider created it (a later :meth:`start` reopens it). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._owns_client:
            with self._errors("stop"):
                await self._client.close()

    async def refresh(self) -> None:
        """Make every document indexed so far searchable now (tests; production uses the refresh interval)."""
        with self._errors("refresh"):
            await self._client.indices.refresh(index=self._alias)

    async def index_workflow(self, instance: WorkflowInstance) -> None:
        """Add or replace the instance's document (id = instance id)."""
        if not instance.id:
            raise SearchError(
                "cannot index a workflow instance without an id: index it after the store created it"
            )
        document = build_document(instance)
        params = (
            {}
            if self._refresh is False
            else {"refresh": "wait_for" if self._refresh == "wait_for" else "true"}
        )
        with self._errors(f"indexing workflow {instance.id}"):
            await self._client.index(index=self._alias, id=instance.id, body=document, params=params)

    async def search(
        self, terms: str, skip: int = 0, take: int = 100, filters: Sequence[SearchFilter] = ()
    ) -> Page[WorkflowSearchResult]:
        """One page of matching instances: by relevance for terms (reference first), else newest first."""
        body = build_search_body(terms, skip, take, filters)
        with self._errors("search"):
            response = await self._client.search(index=self._alias, body=body)
        return page_from_response(response)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except SearchError:
            raise
        except NotFoundError as exc:
            raise SearchError(
                f"OpenSearch {action} failed: index {self._alias!r} not found: start the provider first "
                f"(host start does it) ({exc})"
            ) from exc
        except (AuthenticationException, AuthorizationException) as exc:
            raise SearchError(
                f"OpenSearch {action} failed: access denied: check the user:password in the URL and the "
                f"user's permissions on {self._alias!r} ({exc})"
            ) from exc
        except TransportConnectionError as exc:
            raise SearchError(
                f"OpenSearch {action} failed: cannot reach the server: check the URL, TLS options and that "
                f"it is up ({exc})"
            ) from exc
        except (OpenSearchException, ImproperlyConfigured) as exc:
            raise SearchError(f"OpenSearch {action} failed: {exc}") from exc
