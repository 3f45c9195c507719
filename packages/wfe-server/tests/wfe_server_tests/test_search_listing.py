"""``wfe serve --http --search URL``: the API lists and searches runs through the host's search index."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("httpx")  # a test tool, not a dependency of the server

from .serving import serve  # noqa: E402

pytestmark = pytest.mark.slow


def test_listing_through_the_sqlite_search_index(tmp_path: Path):
    store = f"sqlite:///{tmp_path}/server.db"
    for served in serve(tmp_path, store, "--search", store):
        with served.client() as client:
            ids = [
                client.post(
                    "/api/v1/workflows",
                    json={"definition_id": "quick", "data": {"colour": colour}, "reference": f"ref-{colour}"},
                ).json()["id"]
                for colour in ("mauve", "teal")
            ]
            deadline = time.monotonic() + 30
            while True:
                found = client.get("/api/v1/workflows", params={"q": "mauve"}).json()
                if found["total"] == 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert [item["id"] for item in found["items"]] == [ids[0]]
            assert found["items"][0]["name"].startswith("quick-")
            by_reference = client.get("/api/v1/workflows", params={"reference": "ref-teal"}).json()
            assert [item["id"] for item in by_reference["items"]] == [ids[1]]
            page = client.get("/api/v1/workflows", params={"take": 1}).json()
            assert page["total"] == 2 and page["more"] is True and len(page["items"]) == 1
