"""The built wheels, installed into a clean venv, work without the source tree.

``nox -s wheels`` builds the eight packages, installs ``wfe[postgres,valkey,opensearch,yaml,otel,sqlite,server]`` from
``dist/`` (third-party dependencies from PyPI) into a fresh venv, copies this file to a temporary folder outside
the repository and runs it there with that venv's python. It names the repository in ``WFE_WHEELS_SOURCES`` (to
read the README and the examples) and the venv in ``WFE_WHEELS_VENV``. Anywhere else (the unit session, an editable
dev install) this module is skipped: what it checks is the installed wheels, which only that session has.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest

if not os.environ.get("WFE_WHEELS_SOURCES") or not os.environ.get("WFE_WHEELS_VENV"):
    pytest.skip("checks an install from the built wheels: run `nox -s wheels`", allow_module_level=True)

SOURCES = Path(os.environ["WFE_WHEELS_SOURCES"]).resolve()
VENV = Path(os.environ["WFE_WHEELS_VENV"]).resolve()
# Where the editable sources live; the venv itself may sit inside the repository (nox puts it under .nox/).
SOURCE_PACKAGES = SOURCES / "packages"

DISTRIBUTIONS = {
    "wfe-core": "wfe_core",
    "wfe": "wfe",
    "wfe-yaml": "wfe_yaml",
    "wfe-sqlite": "wfe_sqlite",
    "wfe-postgres": "wfe_postgres",
    "wfe-valkey": "wfe_valkey",
    "wfe-opensearch": "wfe_opensearch",
    "wfe-server": "wfe_server",
}

SQL_AND_KV = {"memory", "sqlite", "postgres", "postgresql", "redis", "rediss", "valkey", "valkeys"}
EXPECTED_ENTRY_POINTS = {
    "wfe.persistence": {"memory", "sqlite", "postgres", "postgresql"},
    "wfe.lock": SQL_AND_KV,
    "wfe.queue": SQL_AND_KV,
    "wfe.search": {"memory", "sqlite", "opensearch", "http", "https"},
    "wfe.lifecycle": {"memory", "redis", "rediss", "valkey", "valkeys"},
    "wfe.steps": {"shell", "deno", "js", "workflow", "git-repo"},
}


def _inside(path: str | os.PathLike[str], folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder)


def _run(args: list[str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_this_test_runs_outside_the_source_tree_on_the_venv_python():
    assert not _inside(Path.cwd(), SOURCES), f"run from a folder outside {SOURCES}"
    assert _inside(sys.prefix, VENV), f"{sys.prefix} is not the wheels venv {VENV}"
    leaks = [entry for entry in sys.path if entry and _inside(entry, SOURCES) and not _inside(entry, VENV)]
    assert not leaks, f"source folders on sys.path: {leaks}"


@pytest.mark.parametrize(("dist_name", "import_name"), sorted(DISTRIBUTIONS.items()))
def test_every_package_imports_from_the_venv(dist_name: str, import_name: str):
    module = importlib.import_module(import_name)
    assert module.__file__ is not None
    assert _inside(module.__file__, VENV), f"{import_name} imported from {module.__file__}"
    assert not _inside(module.__file__, SOURCE_PACKAGES)
    # A wheel install, not an editable one: no direct_url.json pointing back into a source folder.
    direct_url = distribution(dist_name).read_text("direct_url.json")
    assert direct_url is None or str(SOURCE_PACKAGES) not in direct_url, direct_url
    assert (Path(module.__file__).parent / "py.typed").exists()


def test_all_packages_are_installed_at_one_version():
    import wfe
    import wfe_core

    versions = {name: distribution(name).version for name in DISTRIBUTIONS}
    assert set(versions.values()) == {wfe.__version__}, versions
    assert wfe_core.__version__ == wfe.__version__


@pytest.mark.parametrize("group", sorted(EXPECTED_ENTRY_POINTS))
def test_entry_points_name_every_scheme_and_step_type(group: str):
    found = entry_points(group=group)
    names = {entry.name for entry in found}
    missing = EXPECTED_ENTRY_POINTS[group] - names
    assert not missing, f"{group} lacks {sorted(missing)}; has {sorted(names)}"
    for entry in found:
        assert entry.dist is not None and entry.dist.name in DISTRIBUTIONS, (entry, entry.dist)
        target = entry.load()
        if group == "wfe.steps":
            step_type = target()
            assert callable(step_type.create) and callable(step_type.validate), entry
        else:
            assert callable(target.from_url), entry


def test_a_scheme_with_no_provider_is_named_in_the_error():
    from wfe import ProviderNotFoundError, WorkflowHostBuilder

    with pytest.raises(ProviderNotFoundError, match="mongodb"):
        WorkflowHostBuilder().use_persistence("mongodb://localhost/wfe").build()


def test_the_readme_quick_start_runs(tmp_path: Path):
    readme = (SOURCES / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A workflow in code", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None, "README.md lost the python block under 'A workflow in code'"
    (tmp_path / "quickstart.py").write_text(code.group(1), encoding="utf-8")
    result = _run([sys.executable, "quickstart.py"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["delivered book", "Complete"], result.stdout
    assert (tmp_path / "wfe.db").exists()


def test_the_wfe_package_readme_sample_runs(tmp_path: Path):
    """The sample on the package's index page (packages/wfe/README.md)."""
    readme = (SOURCES / "packages" / "wfe" / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert code is not None, "packages/wfe/README.md lost its python sample"
    (tmp_path / "sample.py").write_text(code.group(1), encoding="utf-8")
    result = _run([sys.executable, "sample.py"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello Ada", "bye", "Complete"], result.stdout


def test_the_pizza_example_runs_on_sqlite(tmp_path: Path):
    shutil.copy(SOURCES / "examples" / "pizza.py", tmp_path / "pizza.py")
    result = _run([sys.executable, "pizza.py", f"sqlite:///{tmp_path}/pizza.db"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WorkflowCompleted" in result.stdout
    assert "Receipt: Thanks Ada: 9.50" in result.stdout
    assert (tmp_path / "pizza.db").exists()


def test_the_wfe_command_runs_the_example_pipeline(tmp_path: Path):
    command = Path(sys.executable).parent / "wfe"
    assert command.exists(), "the wfe console script is missing from the venv"
    shutil.copy(SOURCES / "examples" / "pipelines" / "ci.yaml", tmp_path / "ci.yaml")
    validated = _run([str(command), "validate", "ci.yaml", "--var", "project=demo"], cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    result = _run([str(command), "run", "ci.yaml", "--var", "project=demo"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ci-1 completed" in result.stdout
    assert (tmp_path / ".wfe").is_dir()
