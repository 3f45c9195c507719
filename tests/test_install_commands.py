"""Every `pip install` command in README.md and docs/ works as written, each in a clean venv.

``nox -s wheels`` runs this module after building ``dist/`` and names the repository in ``WFE_INSTALL_SOURCES``.
A command in its PyPI form (``pip install "wfe[sqlite]"``) runs with ``dist/`` standing in for PyPI's copy of
the wfe packages (``PIP_FIND_LINKS``); third-party packages come from PyPI. A command in its clone form
(``pip install ./packages/wfe-core ...``) runs at the root of the repository, as the docs say. The README's own
command lines run in a copy of the repository. Then the packages the command names must import in that venv.

The plugin page's commands are checked by building its worked example (``test_the_plugin_page``). The README's
test command (``pip install -c constraints.txt nox uv && nox``) is the one that runs this module.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

if not os.environ.get("WFE_INSTALL_SOURCES"):
    pytest.skip("runs the docs' install commands against dist/: run `nox -s wheels`", allow_module_level=True)

# Every command of the module runs from the first test's fixture, four at a time: a few minutes in all.
pytestmark = pytest.mark.timeout(1500)
ROOT = Path(os.environ["WFE_INSTALL_SOURCES"]).resolve()
DIST = ROOT / "dist"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLUGIN_PAGE = ROOT / "docs" / "plugins.md"
# The test command itself (it is what runs this module).
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -c constraints.txt nox uv && .venv/bin/nox"

MODULES = {
    "wfe-core": ["wfe_core"],
    "wfe": ["wfe"],
    "wfe-yaml": ["wfe_yaml"],
    "wfe-sqlite": ["wfe_sqlite"],
    "wfe-postgres": ["wfe_postgres", "psycopg"],
    "wfe-valkey": ["wfe_valkey", "redis"],
    "wfe-opensearch": ["wfe_opensearch", "opensearchpy"],
    "wfe-server": ["wfe_server", "starlette", "uvicorn"],
}
EXTRA_MODULES = {
    "yaml": ["wfe_yaml"],
    "js": ["wfe_yaml", "py_mini_racer"],
    "sqlite": ["wfe_sqlite"],
    "postgres": MODULES["wfe-postgres"],
    "valkey": MODULES["wfe-valkey"],
    "opensearch": MODULES["wfe-opensearch"],
    "otel": ["opentelemetry.trace"],
    "server": MODULES["wfe-server"],
    "http": ["aiohttp", "jsonpath"],
    "testing": ["pytest", "pytest_asyncio"],
}
EXTRA_MODULES["all"] = sorted(
    {
        m
        for extra in ("js", "sqlite", "postgres", "valkey", "opensearch", "otel", "server", "http")
        for m in EXTRA_MODULES[extra]
    }
)
_INLINE = re.compile(r"`((?:\.venv/bin/)?pip install [^`]+)`")
_REQUIREMENT = re.compile(r"^(?:\./packages/)?(?P<name>wfe(?:-[a-z]+)?)(?:\[(?P<extras>[^\]]*)\])?$")


def _commands_in(page: Path) -> Iterator[str]:
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            command = line.split(" #", 1)[0].strip()
            if command.startswith(("pip install", "python3 -m venv")):
                yield command
        else:
            yield from (match.group(1).strip() for match in _INLINE.finditer(line))


@dataclass(frozen=True)
class Command:
    text: str
    pages: tuple[str, ...]

    @property
    def kind(self) -> str:
        if "&&" in self.text:
            return "readme"
        # Commands that name files of the repository run at its root.
        return (
            "clone"
            if re.search(r"\./packages/|requirements-dev\.txt|constraints\.txt", self.text)
            else "pypi"
        )

    def modules(self) -> list[str]:
        """What must import once the command ran."""
        wanted: list[str] = []
        words = shlex.split(next(part for part in self.text.split("&&") if "pip install" in part))
        for word in words[words.index("install") + 1 :]:
            match = _REQUIREMENT.match(word)
            if match is None:
                continue
            wanted += MODULES[match["name"]]
            for extra in filter(None, (match["extras"] or "").split(",")):
                wanted += EXTRA_MODULES[extra.strip()]
        return sorted(set(wanted))


def _collect() -> list[Command]:
    found: dict[str, list[str]] = {}
    for page in DOCS:
        if page == PLUGIN_PAGE:
            continue
        for text in _commands_in(page):
            if text == TEST_COMMAND:
                continue
            found.setdefault(text, []).append(str(page.relative_to(ROOT)))
    return [Command(text, tuple(pages)) for text, pages in sorted(found.items())]


COMMANDS = _collect()


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra or {})
    return env


def _pip_env(folder: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The shell of a user who activated the venv in ``folder``: its ``pip`` and ``python`` come first."""
    env = _env(extra)
    env["VIRTUAL_ENV"] = str(folder)
    env["PATH"] = f"{folder / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _make_venv(folder: Path) -> None:
    """A clean venv with pip in it: made by uv where it is installed (the wheels session has it), which takes a
    fraction of the time ensurepip does, else by the standard library."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if Path(uv).exists():
        subprocess.run(
            [uv, "venv", "--seed", "--quiet", "--python", sys.executable, str(folder)],
            check=True,
            capture_output=True,
            env=_env(),
        )
    else:
        venv.create(folder, with_pip=True)


def _copy_of_repository(target: Path) -> Path:
    """The files git knows of (as they are in the work tree), as a fresh clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _run(command: Command, workdir: Path) -> tuple[bool, str]:
    if command.kind == "readme":
        copy = _copy_of_repository(workdir / "clone")
        done = subprocess.run(
            command.text, shell=True, cwd=copy, env=_env(), capture_output=True, text=True, timeout=900
        )
        python = copy / ".venv" / "bin" / "python"
    else:
        folder = workdir / "venv"
        _make_venv(folder)
        extra = {"PIP_FIND_LINKS": f"{DIST} {os.environ.get('PIP_FIND_LINKS', '')}".strip()}
        done = subprocess.run(
            command.text,
            shell=True,
            cwd=ROOT if command.kind == "clone" else workdir,
            env=_pip_env(folder, extra if command.kind == "pypi" else None),
            capture_output=True,
            text=True,
            timeout=600,
        )
        python = folder / "bin" / "python"
    output = done.stdout[-3000:] + done.stderr[-3000:]
    if done.returncode != 0:
        return False, f"exit {done.returncode}\n{output}"
    modules = command.modules()
    if modules:
        check = subprocess.run(
            [str(python), "-c", "import " + ", ".join(modules)], env=_env(), capture_output=True, text=True
        )
        if check.returncode != 0:
            return False, f"ran, but `import {', '.join(modules)}` failed:\n{check.stderr[-3000:]}"
    return True, output


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bool, str]]:
    # pip spends most of its time waiting on the network and on builds in other processes: four at a time.
    def one(command: Command) -> tuple[str, tuple[bool, str]]:
        return command.text, _run(command, tmp_path_factory.mktemp("install"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, COMMANDS))


def test_the_docs_have_install_commands_of_each_kind() -> None:
    kinds = {command.kind for command in COMMANDS}
    assert kinds == {"pypi", "clone", "readme"}, kinds


@pytest.mark.parametrize("command", COMMANDS, ids=[command.text for command in COMMANDS])
def test_install_command_works_as_written(command: Command, outcomes: dict[str, tuple[bool, str]]) -> None:
    ok, output = outcomes[command.text]
    assert ok, f"`{command.text}` (in {', '.join(command.pages)}) failed: {output}"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.kind == "pypi"], ids=lambda c: c.text)
def test_every_pypi_form_has_a_clone_form_on_its_page(command: Command) -> None:
    for page in command.pages:
        clone_forms = [c for c in COMMANDS if c.kind == "clone" and page in c.pages]
        assert clone_forms, f"{page} gives `{command.text}` but no command that installs from a clone"


def _blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL)


def _write_plugin(folder: Path) -> Path:
    """The worked example of the plugin page, laid out as its tree says."""
    plugin = folder / "wfe-dirlock"
    (plugin / "src" / "wfe_dirlock").mkdir(parents=True)
    (plugin / "tests").mkdir()
    (plugin / "pyproject.toml").write_text(_blocks(PLUGIN_PAGE, "toml")[0], encoding="utf-8")
    code = _blocks(PLUGIN_PAGE, "python")
    (plugin / "src" / "wfe_dirlock" / "__init__.py").write_text(code[0], encoding="utf-8")
    (plugin / "src" / "wfe_dirlock" / "py.typed").write_text("", encoding="utf-8")
    (plugin / "tests" / "test_conformance.py").write_text(code[1], encoding="utf-8")
    return plugin


def _shell(line: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(line, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"`{line}` failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


PLUGIN_COMMANDS = [
    'pip install -e ".[test]" wfe',
    'pip install -e ".[test]" ../wfe/packages/wfe-core ../wfe/packages/wfe',
    "pip install wfe-dirlock",
]


@pytest.mark.parametrize("route", ["pypi", "clone"])
def test_the_plugin_page(tmp_path: Path, route: str) -> None:
    """The worked example of docs/plugins.md installs with the page's command, wfe coming from dist/ (standing
    in for PyPI) or from a clone beside the plugin, and passes its conformance suite with the page's pytest
    command; once built and published (a wheel in a folder pip looks in) it installs by name as "Using it" says.
    """
    assert list(_commands_in(PLUGIN_PAGE)) == PLUGIN_COMMANDS
    plugin = _write_plugin(tmp_path)
    (tmp_path / "wfe").symlink_to(ROOT, target_is_directory=True)
    folder = tmp_path / "venv"
    _make_venv(folder)
    links = {"PIP_FIND_LINKS": f"{DIST} {os.environ.get('PIP_FIND_LINKS', '')}".strip()}
    env = _pip_env(folder, links if route == "pypi" else None)
    _shell(PLUGIN_COMMANDS[0] if route == "pypi" else PLUGIN_COMMANDS[1], plugin, env)
    test_block = [b for b in _blocks(PLUGIN_PAGE, "bash") if PLUGIN_COMMANDS[0] in b][0]
    pytest_line = [line for line in test_block.splitlines() if line.startswith("pytest")][0]
    _shell(pytest_line, plugin, env)
    if route == "clone":
        return
    published = tmp_path / "published"
    _shell(f"pip wheel --no-deps -w {published} .", plugin, env)
    user = tmp_path / "user"
    _make_venv(user)
    _shell(
        PLUGIN_COMMANDS[2],
        tmp_path,
        _pip_env(user, {"PIP_FIND_LINKS": f"{published} {links['PIP_FIND_LINKS']}"}),
    )
    _shell("python -c 'import wfe_dirlock, wfe_core'", tmp_path, _pip_env(user))
