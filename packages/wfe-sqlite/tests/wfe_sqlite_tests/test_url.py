"""Parsing sqlite: URLs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wfe_sqlite import parse_sqlite_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///dir/relative.db", "dir/relative.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite:///with%20space.db", "with space.db"),
    ],
)
def test_url_forms_name_the_database_path(url: str, path: str) -> None:
    assert parse_sqlite_url(url)[0] == path


def test_defaults_are_full_synchronous_and_a_ten_second_busy_timeout() -> None:
    _, options, _ = parse_sqlite_url("sqlite:///wfe.db")
    assert (options.synchronous, options.busy_timeout) == ("FULL", 10.0)


def test_query_sets_options_and_keywords_override_the_query() -> None:
    _, options, rest = parse_sqlite_url(
        "sqlite:///wfe.db?synchronous=normal&busy_timeout=2.5&visibility_timeout=9"
    )
    assert (options.synchronous, options.busy_timeout) == ("NORMAL", 2.5)
    assert rest == {"visibility_timeout": "9"}
    _, options, _ = parse_sqlite_url(
        "sqlite:///wfe.db?synchronous=normal", synchronous="FULL", busy_timeout=timedelta(seconds=3)
    )
    assert (options.synchronous, options.busy_timeout) == ("FULL", 3.0)


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("postgres:///wfe.db", "sqlite:///relative.db"),
        ("sqlite://host/wfe.db", "SQLite is a local file"),
        ("sqlite://", "names no file"),
        ("sqlite:///", "names no file"),
    ],
)
def test_bad_urls_say_how_to_write_a_good_one(url: str, fix: str) -> None:
    with pytest.raises(ValueError, match=fix):
        parse_sqlite_url(url)


def test_unknown_synchronous_level_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="OFF, NORMAL, FULL, EXTRA"):
        parse_sqlite_url("sqlite:///wfe.db?synchronous=sometimes")
