"""Workspace invariants of the seven distributions: one version, pinned siblings, extras, layout, entry points,
and the compose file the integration tests run against."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent

IMPORT_NAMES = {
    "wfe-core": "wfe_core",
    "wfe": "wfe",
    "wfe-yaml": "wfe_yaml",
    "wfe-sqlite": "wfe_sqlite",
    "wfe-postgres": "wfe_postgres",
    "wfe-valkey": "wfe_valkey",
    "wfe-opensearch": "wfe_opensearch",
    "wfe-server": "wfe_server",
}
PROVIDER_GROUPS = {"wfe.persistence", "wfe.lock", "wfe.queue", "wfe.search", "wfe.lifecycle"}

# What each `wfe` extra must bring in: distribution name -> the extras of it that are needed.
WFE_EXTRAS: dict[str, dict[str, set[str]]] = {
    "yaml": {"wfe-yaml": set()},
    "js": {"wfe-yaml": {"js"}},
    "sqlite": {"wfe-sqlite": set()},
    "postgres": {"wfe-postgres": set()},
    "valkey": {"wfe-valkey": set()},
    "opensearch": {"wfe-opensearch": set()},
    "otel": {"opentelemetry-api": set()},
    "server": {"wfe-server": set()},
}


def _pyproject(dist: str) -> dict[str, Any]:
    with open(ROOT / "packages" / dist / "pyproject.toml", "rb") as file:
        return tomllib.load(file)


PROJECTS = {dist: _pyproject(dist)["project"] for dist in IMPORT_NAMES}
VERSION = PROJECTS["wfe"]["version"]


def _requirements(project: dict[str, Any]) -> list[Requirement]:
    lines = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [Requirement(line) for line in lines]


def test_every_package_is_on_the_workspace_list():
    assert {path.name for path in (ROOT / "packages").iterdir() if path.is_dir()} == set(IMPORT_NAMES)
    assert {project["name"] for project in PROJECTS.values()} == set(IMPORT_NAMES)


def test_all_seven_versions_agree():
    assert {dist: project["version"] for dist, project in PROJECTS.items()} == dict.fromkeys(
        IMPORT_NAMES, VERSION
    )


@pytest.mark.parametrize(("dist", "import_name"), sorted(IMPORT_NAMES.items()))
def test_dunder_version_matches_the_pyproject_where_defined(dist: str, import_name: str):
    module = importlib.import_module(import_name)
    declared = getattr(module, "__version__", None)
    assert declared in (None, VERSION), f"{import_name}.__version__ is {declared}, pyproject says {VERSION}"


@pytest.mark.parametrize("dist", sorted(IMPORT_NAMES))
def test_every_sibling_dependency_is_pinned_to_the_workspace_version(dist: str):
    for requirement in _requirements(PROJECTS[dist]):
        if requirement.name in IMPORT_NAMES:
            assert str(requirement.specifier) == f"=={VERSION}", f"{dist}: {requirement} must pin =={VERSION}"


def test_wfe_extras_point_at_the_right_distributions():
    extras = PROJECTS["wfe"]["optional-dependencies"]
    assert set(extras) >= {*WFE_EXTRAS, "all"}
    for extra, expected in WFE_EXTRAS.items():
        found = {Requirement(line).name: Requirement(line).extras for line in extras[extra]}
        assert found == expected, f"wfe[{extra}] holds {extras[extra]}"
    everything: dict[str, set[str]] = {}
    for requirement in map(Requirement, extras["all"]):
        everything.setdefault(requirement.name, set()).update(requirement.extras)
    for extra, expected in WFE_EXTRAS.items():
        for name, needed in expected.items():
            assert name in everything and needed <= everything[name], f"wfe[all] lacks wfe[{extra}]: {name}"


def test_every_install_hint_names_an_extra_that_provides_the_scheme():
    from wfe._discovery import INSTALL_HINTS

    extras = PROJECTS["wfe"]["optional-dependencies"]
    for scheme, hint in INSTALL_HINTS.items():
        match = re.fullmatch(r"wfe\[(\w+)\]", hint)
        assert match and match.group(1) in extras, f"{scheme}: hint {hint!r} names no wfe extra"
        dists = {Requirement(line).name for line in extras[match.group(1)]}
        declared = {
            name
            for dist in dists & set(IMPORT_NAMES)
            for group, names in PROJECTS[dist].get("entry-points", {}).items()
            if group in PROVIDER_GROUPS
            for name in names
        }
        assert scheme in declared, f"{hint} installs nothing that registers the scheme {scheme!r}"


@pytest.mark.parametrize(("dist", "import_name"), sorted(IMPORT_NAMES.items()))
def test_every_package_has_a_src_layout_py_typed_and_a_readme(dist: str, import_name: str):
    folder = ROOT / "packages" / dist
    assert (folder / "src" / import_name / "__init__.py").is_file()
    assert (folder / "src" / import_name / "py.typed").is_file()
    assert PROJECTS[dist]["readme"] == "README.md"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {dist}\n") and "pip install" in readme, (
        f"{dist}/README.md: title and install"
    )
    wheel = _pyproject(dist)["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == [f"src/{import_name}"]
    assert (folder / "tests" / f"{import_name}_tests" / "__init__.py").is_file()


def _entry_points() -> list[tuple[str, str, str, str]]:
    return [
        (dist, group, name, target)
        for dist, project in sorted(PROJECTS.items())
        for group, names in sorted(project.get("entry-points", {}).items())
        for name, target in sorted(names.items())
    ]


def test_entry_point_groups_are_the_documented_ones():
    groups = {group for _, group, _, _ in _entry_points()}
    assert groups == {*PROVIDER_GROUPS, "wfe.steps"}


@pytest.mark.parametrize(("dist", "group", "name", "target"), _entry_points())
def test_every_entry_point_target_imports_and_has_its_factory(dist: str, group: str, name: str, target: str):
    module_name, _, attribute = target.partition(":")
    loaded = getattr(importlib.import_module(module_name), attribute)
    if group == "wfe.steps":
        step_type = loaded()
        assert callable(getattr(step_type, "create", None)), (
            f"{dist} {group}:{name} -> {target} has no create"
        )
        assert callable(getattr(step_type, "validate", None)), (
            f"{dist} {group}:{name} -> {target} has no validate"
        )
    else:
        assert callable(getattr(loaded, "from_url", None)), (
            f"{dist} {group}:{name} -> {target} has no from_url"
        )


# The compose file: Docker is not needed to check its shape.

COMPOSE = ROOT / "compose" / "compose.yaml"
SERVICES = {"postgres": "5432", "valkey": "6379", "opensearch": "9200"}


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and isinstance(document.get("services"), dict)
    return document


def test_compose_runs_postgres_17_valkey_8_and_opensearch_2():
    services = _compose()["services"]
    assert set(services) >= set(SERVICES)
    images = {name: services[name]["image"] for name in SERVICES}
    assert re.fullmatch(r"(docker\.io/)?(library/)?postgres:17(\.\d+)*(-\w+)?", images["postgres"]), images
    assert re.fullmatch(r"(docker\.io/)?valkey/valkey:8(\.\d+)*(-\w+)?", images["valkey"]), images
    assert re.fullmatch(r"(docker\.io/)?opensearchproject/opensearch:2(\.\d+)*", images["opensearch"]), images


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_service_has_a_healthcheck_and_publishes_its_port_on_localhost(service: str):
    definition = _compose()["services"][service]
    check = definition["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1
    assert {"interval", "timeout", "retries"} <= set(check)
    ports = [str(port) for port in definition["ports"]]
    assert len(ports) == 1
    host_ip, host_port, container_port = ports[0].split(":")
    assert host_ip == "127.0.0.1" and container_port == SERVICES[service]
    # Not the default port: a local PostgreSQL or Redis keeps its own.
    assert host_port != container_port


def test_compose_host_ports_are_the_ones_the_testing_docs_give():
    services = _compose()["services"]
    docs = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    for service in SERVICES:
        host_port = str(services[service]["ports"][0]).split(":")[1]
        assert f"127.0.0.1:{host_port}" in docs, (
            f"docs/testing.md does not give the {service} URL on {host_port}"
        )


def test_compose_opensearch_runs_single_node_without_the_security_plugin():
    environment = _compose()["services"]["opensearch"]["environment"]
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    assert environment["discovery.type"] == "single-node"
    assert str(environment["DISABLE_SECURITY_PLUGIN"]).lower() == "true"
