"""One error tree: configuration mistakes are ConfigurationErrors, a missing optional package is a
MissingExtraError naming the install command that works, and no bare ValueError reports configuration."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from wfe import ConfigurationError, MissingExtraError, WfeError, WorkflowHostBuilder
from wfe.cli.extras import require_yaml
from wfe_core.install import clone_command

PACKAGES = Path(__file__).resolve().parents[3]

# The ``raise ValueError`` left in the sources, each for a mistake in a call or in data, not in configuration.
NOT_CONFIGURATION = {
    # an internal table lookup of the install hints (and wfe_core.errors imports this module)
    ("wfe-core/src/wfe_core/install.py", "not a wfe distribution"),
    # a test clock moved backwards: a wrong call, not a setting
    ("wfe-core/src/wfe_core/testing/clock.py", "a clock only moves forward"),
    # a provider called persist_workflow without now=: a wrong call between wfe's own parts
    ("wfe-core/src/wfe_core/delivery.py", "persist_workflow(deliveries=...) needs now="),
    # a store's create_workflow_once called without an id: a wrong call between wfe's own parts
    ("wfe-core/src/wfe_core/providers/memory/persistence.py", "create_workflow_once needs instance.id"),
    ("wfe-postgres/src/wfe_postgres/_writes.py", "create_workflow_once needs instance.id"),
    ("wfe-sqlite/src/wfe_sqlite/_workflows.py", "create_workflow_once needs instance.id"),
    # the optional one-transaction writes called without checking leases_with, or without an id: wrong calls
    # between wfe's own parts (the host asks leases_with first and sets the id)
    ("wfe-postgres/src/wfe_postgres/_leased_create.py", "create_workflow_leased needs a PostgresLock"),
    ("wfe-postgres/src/wfe_postgres/_leased_create.py", "create_workflow_leased needs instance.id"),
    ("wfe-postgres/src/wfe_postgres/_leased_create.py", "persist_workflow_released needs a PostgresLock"),
    ("wfe-sqlite/src/wfe_sqlite/_leased_create.py", "create_workflow_leased needs a SqliteLock"),
    ("wfe-sqlite/src/wfe_sqlite/_leased_create.py", "create_workflow_leased needs instance.id"),
    ("wfe-sqlite/src/wfe_sqlite/_leased_create.py", "persist_workflow_released needs a SqliteLock"),
    # URLs a script fetches at run time: data of the script, reported to it as a failed fetch
    ("wfe-yaml/src/wfe_yaml/js/permissions.py", "Invalid URL"),
    ("wfe-yaml/src/wfe_yaml/js/permissions.py", "URL "),
    # pydantic validators of the HTTP API's request bodies: pydantic makes them a 400 naming the field
    ("wfe-server/src/wfe_server/_requests.py", "must be an integer"),
    ("wfe-server/src/wfe_server/_requests.py", "must be a date-time string"),
}


def test_missing_extra_error_names_the_install_command():
    error = MissingExtraError("Loading YAML pipelines", extra="yaml", package="wfe-yaml")
    assert (
        isinstance(error, ConfigurationError)
        and isinstance(error, ValueError)
        and isinstance(error, WfeError)
    )
    assert (error.extra, error.package, error.requirement) == ("yaml", "wfe-yaml", "wfe[yaml]")
    assert error.install_command == 'pip install "wfe[yaml]"'
    assert str(error) == (
        "Loading YAML pipelines: wfe-yaml not installed. Install the 'yaml' extra: "
        f'pip install "wfe[yaml]" (from a clone of the wfe repository: {clone_command("wfe[yaml]")})'
    )


def test_the_cli_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "wfe_yaml", None)  # as if wfe-yaml were not installed
    with pytest.raises(MissingExtraError, match=r'pip install "wfe\[yaml\]"') as caught:
        require_yaml()
    assert caught.value.extra == "yaml"


def test_tracing_without_opentelemetry_names_the_otel_extra(monkeypatch: pytest.MonkeyPatch):
    from wfe import _otel

    monkeypatch.setattr(_otel, "trace", None)
    with pytest.raises(MissingExtraError, match=r'pip install "wfe\[otel\]"') as caught:
        WorkflowHostBuilder().use_opentelemetry()
    assert caught.value.extra == "otel"


def test_a_missing_javascript_runtime_is_a_missing_extra():
    from wfe_yaml.js.errors import JsRuntimeMissingError

    error = JsRuntimeMissingError()
    assert isinstance(error, MissingExtraError)
    assert error.extra == "js" and error.install_command == 'pip install "wfe-yaml[js]"'
    assert 'pip install "wfe-yaml[js]"' in str(error)


PROVIDER_OPTIONS = [
    # (what to build, the start of the message)
    (
        lambda d: WorkflowHostBuilder().use_persistence(f"sqlite:///{d}/x.db?busy_timeout=soon"),
        "busy_timeout=",
    ),
    (
        lambda d: WorkflowHostBuilder().use_persistence(f"sqlite:///{d}/x.db", synchronous="fast"),
        "synchronous=",
    ),
    (
        lambda d: WorkflowHostBuilder().use_persistence(f"sqlite:///{d}/x.db?poll_interval=-1"),
        "SQLite queue option poll_interval must be a number of seconds longer than zero (or a timedelta), not '-1'",
    ),
    (
        lambda d: WorkflowHostBuilder().use_queue("memory://", visibility_timeout=0),
        "MemoryQueue option visibility_timeout must be a number of seconds longer than zero",
    ),
    (
        lambda d: WorkflowHostBuilder().use_queue("redis://127.0.0.1:6379/0", visibility_timeout="soon"),
        "Valkey queue option visibility_timeout must be a number of seconds longer than zero",
    ),
    (
        lambda d: WorkflowHostBuilder().use_lock("redis://127.0.0.1:6379/0?retry_timeout=-5"),
        "Valkey lock option retry_timeout must be",
    ),
    (
        lambda d: WorkflowHostBuilder().use_queue("postgresql://u@h/db?poll_interval=x"),
        "URL option poll_interval=",
    ),
]


@pytest.mark.parametrize(("builder", "start"), PROVIDER_OPTIONS)
def test_a_wrong_provider_option_is_refused_by_build_naming_it(tmp_path: Path, builder, start):
    with pytest.raises(ConfigurationError) as caught:
        builder(tmp_path).build()
    assert str(caught.value).startswith(start), str(caught.value)


def test_sqlite_options_are_a_validated_model():
    from wfe_sqlite import SqliteOptions

    assert SqliteOptions(synchronous="normal", busy_timeout=2).synchronous == "NORMAL"
    with pytest.raises(ConfigurationError, match="SqliteOptions has no option 'timeout'"):
        SqliteOptions(timeout=1)
    with pytest.raises(ConfigurationError, match="busy_timeout must be a number of seconds zero or more"):
        SqliteOptions(busy_timeout=-1)


def test_no_bare_value_error_reports_configuration():
    found = set()
    for path in sorted(PACKAGES.glob("*/src/**/*.py")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"raise ValueError\(\s*f?[\"']([^\"'{]*)", text):
            where = path.relative_to(PACKAGES).as_posix()
            allowed = [
                start for file, start in NOT_CONFIGURATION if file == where and match[1].startswith(start)
            ]
            assert allowed, (
                f"{where}: raise ValueError({match[1]!r}...): raise ConfigurationError (or add why not)"
            )
            found.add((where, allowed[0]))
    assert found == NOT_CONFIGURATION  # an entry no longer needed is removed


@pytest.mark.parametrize(
    ("options", "start"),
    [
        ({"size": 0}, "JsPool size must be a whole number of at least 1, not 0"),
        ({"size": "2"}, "JsPool size must be a whole number of at least 1, not '2'"),
        ({"memory_limit": 1.5e9}, "JsPool memory_limit must be a whole number of bytes"),
        ({"memory_limit": 1024}, "JsPool memory_limit must be at least 128 MiB"),
    ],
)
def test_a_wrong_javascript_pool_option_is_refused_naming_it(options, start):
    from wfe_yaml.js.pool import JsPool

    with pytest.raises(ConfigurationError) as caught:
        JsPool(**options)
    assert str(caught.value).startswith(start), str(caught.value)
