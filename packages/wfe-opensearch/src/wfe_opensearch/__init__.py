"""wfe-opensearch: the wfe search index on OpenSearch.

Register it on a host with ``use_search_index("opensearch://localhost:9200")`` (or ``http://`` /
``https://``), or build one with :meth:`OpenSearchIndex.from_url`. The document and query builders are pure
functions, exported for inspection and tests.
"""

from wfe_opensearch._document import build_document, data_type_of
from wfe_opensearch._index import DEFAULT_INDEX, OpenSearchIndex
from wfe_opensearch._mapping import MAPPING, MAPPING_VERSION, SETTINGS
from wfe_opensearch._query import REFERENCE_MATCH_BOOST, TERM_FIELDS, build_query, build_search_body
from wfe_opensearch._results import page_from_response

__all__ = [
    "DEFAULT_INDEX",
    "MAPPING",
    "MAPPING_VERSION",
    "REFERENCE_MATCH_BOOST",
    "SETTINGS",
    "TERM_FIELDS",
    "OpenSearchIndex",
    "build_document",
    "build_query",
    "build_search_body",
    "data_type_of",
    "page_from_response",
]
