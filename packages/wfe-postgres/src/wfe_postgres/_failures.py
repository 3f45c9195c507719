"""Turning psycopg's exceptions into wfe's error tree, with a hint at the fix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors

from wfe_core.errors import PersistenceError, ProviderError, ValueRefusedError


def hint(exc: psycopg.Error) -> str:
    """What the operator can do about ``exc``."""
    if isinstance(exc, pg_errors.UndefinedTable | pg_errors.InvalidSchemaName):
        return "the wfe tables are missing: call ensure_store_exists() (the host does so on start)"
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return "grant the role USAGE and CREATE on the wfe schema, or pick a schema it owns"
    if isinstance(exc, psycopg.OperationalError):
        return _connection_hint(str(exc))
    return "see the chained driver error"


@contextmanager
def wrapped(error_type: type[ProviderError], action: str) -> Iterator[None]:
    """Re-raise driver errors from the block as ``error_type``, the driver error as ``__cause__``."""
    try:
        yield
    except psycopg.DataError as exc:
        # SQLSTATE class 22: the data itself (a NUL character or NaN in JSON, say), not the connection
        refused = ValueRefusedError if issubclass(error_type, PersistenceError) else error_type
        raise refused(
            f"PostgreSQL {action} failed: {exc.__class__.__name__}: {exc} (PostgreSQL cannot store this value:"
            " a NUL character in text or JSON, or a NaN or infinite number in JSON; keep such values out of"
            " workflow data, e.g. as base64 or a string)"
        ) from exc
    except psycopg.Error as exc:
        raise error_type(
            f"PostgreSQL {action} failed: {exc.__class__.__name__}: {exc} ({hint(exc)})"
        ) from exc


def _connection_hint(reason: str) -> str:
    """The fix for a connection libpq could not make, from its reason."""
    if "database" in reason and "does not exist" in reason:
        return (
            "create the database (CREATE DATABASE name; or createdb name) or fix the database name at the end of"
            " the URL"
        )
    if "role" in reason and "does not exist" in reason:
        return "create the role (CREATE ROLE name LOGIN PASSWORD '...') or fix the user name in the URL"
    if "password authentication failed" in reason or "no password supplied" in reason:
        return (
            "check the user and password in the URL (percent-encode special characters: @ is %40, : is %3A,"
            " / is %2F)"
        )
    if "timeout expired" in reason:
        return (
            "no PostgreSQL answered within the connect timeout: check the host and port in the URL and that nothing"
            " on the way drops the traffic, or allow a slow network more time with ?connect_timeout=10 in the URL;"
            " the call can be retried once the server answers"
        )
    if "pg_hba.conf" in reason:
        return "allow this client, user and database in the server's pg_hba.conf, or connect as another user"
    return "check that PostgreSQL is running and reachable at the URL; the call can be retried once it is"
