"""The install commands that errors print: the PyPI form and the form that installs from a clone."""

from __future__ import annotations

import pytest

from wfe_core.errors import ProviderNotFoundError
from wfe_core.install import clone_command, install_hint, pip_command


@pytest.mark.parametrize(
    ("requirement", "pypi", "clone"),
    [
        ("wfe", "pip install wfe", "pip install ./packages/wfe-core ./packages/wfe"),
        (
            "wfe[sqlite]",
            'pip install "wfe[sqlite]"',
            'pip install ./packages/wfe-core ./packages/wfe-sqlite "./packages/wfe[sqlite]"',
        ),
        (
            "wfe[yaml,postgres]",
            'pip install "wfe[yaml,postgres]"',
            'pip install ./packages/wfe-core ./packages/wfe-yaml ./packages/wfe-postgres "./packages/wfe[yaml,postgres]"',
        ),
        ("wfe[otel]", 'pip install "wfe[otel]"', 'pip install ./packages/wfe-core "./packages/wfe[otel]"'),
        (
            "wfe-yaml[js]",
            'pip install "wfe-yaml[js]"',
            'pip install ./packages/wfe-core "./packages/wfe-yaml[js]"',
        ),
        (
            "wfe-core[testing]",
            'pip install "wfe-core[testing]"',
            'pip install "./packages/wfe-core[testing]"',
        ),
        ("wfe-valkey", "pip install wfe-valkey", "pip install ./packages/wfe-core ./packages/wfe-valkey"),
    ],
)
def test_both_routes(requirement: str, pypi: str, clone: str) -> None:
    assert pip_command(requirement) == pypi
    assert clone_command(requirement) == clone
    assert install_hint(requirement) == f"{pypi} (from a clone of the wfe repository: {clone})"


def test_every_wfe_extra_names_its_packages() -> None:
    clone = clone_command("wfe[all]")
    for package in ("wfe-core", "wfe-yaml", "wfe-sqlite", "wfe-postgres", "wfe-valkey", "wfe-opensearch"):
        assert f"./packages/{package} " in clone
    assert clone.endswith('"./packages/wfe[all]"')


def test_a_name_that_is_not_a_wfe_distribution_is_refused() -> None:
    with pytest.raises(ValueError, match="not a wfe distribution"):
        clone_command("requests")


def test_provider_not_found_names_both_routes() -> None:
    error = ProviderNotFoundError("wfe.persistence", "postgresql", "wfe[postgres]")
    assert 'pip install "wfe[postgres]"' in str(error)
    assert './packages/wfe-postgres "./packages/wfe[postgres]"' in str(error)
