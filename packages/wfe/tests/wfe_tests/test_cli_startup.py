"""`import wfe`, `wfe --help` and `wfe validate` import only what they need (checked on the modules imported, not
on time: the timed figures are in docs/benchmarks.md), and the lazy names and commands stay in step with the real
ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import wfe
import wfe_core

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "pipelines" / "ci.yaml"

PROVIDERS = ("wfe_sqlite", "wfe_postgres", "wfe_valkey", "wfe_opensearch", "psycopg", "redis", "aiohttp")
"""Never imported before a store is opened."""

HEAVY = (*PROVIDERS, "rich", "croniter", "wfe_yaml", "pydantic", "click", "asyncio")
"""Not imported by `import wfe` alone."""

# Runs CODE in a fresh interpreter, then prints the names of the modules imported, top-level names only unless
# the second argument is "full" (also when CODE ends in SystemExit, as the CLI does).
PROBE = """
import json, sys
full = sys.argv[2] == "full"  # read before CODE, which sets sys.argv for the CLI
try:
    exec(sys.argv[1])
except SystemExit:
    pass
finally:
    sys.stdout.flush()
    names = sys.modules if full else {name.split(".")[0] for name in sys.modules}
    print("\\nMODULES=" + json.dumps(sorted(names)), file=sys.stderr)
"""

ENGINE = (
    "asyncio",
    "logging",
    "wfe_core.models.instance",
    "wfe_core.models.event",
    "wfe_core.models.lifecycle",
    "wfe_core.executor",
    "wfe_yaml.shell.step",
    "wfe_yaml.shell.process",
    "wfe_yaml.shell.environment",
    "wfe_core.models.artifact",
    "wfe_core.primitives.poll_endpoint",
    "wfe_core.primitives.poll_conditions",
    "wfe.cli.runs",
)
"""What running workflows needs and validating them does not: the engine's models of instances, events and
lifecycle events, the executor, the event loop, logging, the shell step's process handling and how it passes
workflow data (artifact references among them) to a command, the HTTP polling step (a pipeline without
one), and the records of the runs `wfe run` started."""


PIPELINE_PRIMITIVES = ("container", "poll_defaults", "sequence", "inline")
"""The modules of wfe_core.primitives a compiled pipeline may need (parallel groups, hooks, continue_on_error)."""


def imported_by(code: str, *argv: str, full: bool = False) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, code, "full" if full else "top", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLE.parents[2],
    )
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def cli_code(*args: str) -> str:
    return f"import sys; sys.argv = ['wfe', *{list(args)!r}]; from wfe.cli import main; main()"


def test_import_wfe_imports_no_heavy_module() -> None:
    loaded = imported_by("import wfe")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_import_wfe_core_errors_imports_no_model() -> None:
    loaded = imported_by("import wfe_core.errors; from wfe import ConfigurationError")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_wfe_help_imports_no_command_module() -> None:
    loaded = imported_by(cli_code("--help"))
    assert loaded.isdisjoint({*PROVIDERS, "rich", "croniter", "wfe_yaml", "pydantic", "asyncio"}), sorted(
        loaded & set(HEAVY)
    )


@pytest.mark.parametrize(
    "args", [["validate", str(EXAMPLE)], ["validate", str(EXAMPLE), "--var", "project=x"]]
)
def test_wfe_validate_imports_no_provider_nor_rich(args: list[str]) -> None:
    loaded = imported_by(cli_code(*args))
    assert "wfe_yaml" in loaded  # the probe did validate
    assert loaded.isdisjoint({*PROVIDERS, "rich"}), sorted(loaded & {*PROVIDERS, "rich"})


@pytest.mark.parametrize(
    "args",
    [
        ["validate", str(EXAMPLE), "--var", "project=x"],
        ["validate", "--strict", str(EXAMPLE), "--var", "project=x"],
    ],
)
def test_wfe_validate_compiles_without_the_engine(args: list[str]) -> None:
    loaded = imported_by(cli_code(*args), full=True)
    # The definition is still built (the compile-time checks are the builder's), with the shell step type.
    assert {"wfe_core.builder", "wfe_yaml.compiler", "wfe_yaml.shell.step_type"} <= loaded
    assert loaded.isdisjoint(ENGINE), sorted(loaded & set(ENGINE))
    # The builder imports the primitives the pipeline uses: here the parallel group's.
    primitives = {name for name in loaded if name.startswith("wfe_core.primitives.")}
    assert primitives <= {f"wfe_core.primitives.{name}" for name in PIPELINE_PRIMITIVES}, sorted(primitives)


def test_wfe_validate_imports_only_what_the_pipeline_uses() -> None:
    # difflib finds the "did you mean" hints of errors and warnings, and value_types reads the types of typed
    # inputs and outputs: the example loads cleanly and declares no types.
    loaded = imported_by(cli_code("validate", str(EXAMPLE), "--var", "project=x"), full=True)
    assert loaded.isdisjoint({"difflib", "wfe_yaml.value_types"}), sorted(loaded)


def reported_at_exit(report: str, *args: str) -> str:
    """What the expression ``report`` is once the CLI ran with ``args`` in a fresh interpreter (evaluated at exit,
    as the command ends in SystemExit)."""
    probe = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print('REPORT=' + repr({report}), file=sys.stderr))\n" + cli_code(*args)
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=EXAMPLE.parents[2]
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stderr.splitlines() if line.startswith("REPORT="))
    return line.removeprefix("REPORT=")


def test_wfe_validate_of_built_in_step_types_does_not_scan_the_step_entry_points() -> None:
    # The scan reads every installed distribution's metadata; the example uses only built-in step types.
    scans = "__import__('wfe_yaml.step_types').step_types._entry_points.cache_info().misses"
    assert reported_at_exit(scans, "validate", str(EXAMPLE), "--var", "project=x") == "0"


def test_wfe_validate_does_not_compile_the_tokenizer_patterns() -> None:
    # pydantic reads the signature of each default factory; a builtin's (`list`) is parsed from its text with
    # the tokenizer, whose patterns take milliseconds to compile: the schema's list fields use a function.
    compiled = (
        "[m._compile.cache_info().misses for m in [sys.modules.get('tokenize')] if hasattr(m, '_compile')]"
    )
    assert reported_at_exit(compiled, "validate", str(EXAMPLE), "--var", "project=x") in ("[]", "[0]")


def test_wfe_validate_builds_the_validator_of_the_workflow_model_alone() -> None:
    # The schema's models defer their build: validating a workflow builds WorkflowSpec's validator, which holds
    # the nested models' own; theirs, and WorkflowFile's (the JSON Schema's), are never built.
    built = (
        "sorted(n for n, c in vars(__import__('wfe_yaml.schema').schema).items() "
        "if getattr(c, '__pydantic_complete__', False) and c.__module__ == 'wfe_yaml.schema')"
    )
    assert reported_at_exit(built, "validate", str(EXAMPLE), "--var", "project=x") == "['WorkflowSpec']"


def test_the_lazy_packages_resolve_every_name() -> None:
    import wfe_core.models
    import wfe_core.primitives
    import wfe_yaml.shell

    for module in (wfe_core.models, wfe_core.primitives, wfe_yaml.shell):
        for name in module.__all__:
            value = getattr(module, name)
            assert value is not None, f"{module.__name__}.{name}"
            assert name in dir(module)
        with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
            _ = module.NoSuchName
    assert wfe_core.models.ACTIVITY_EVENT_NAME == "wfe.activity"
    assert wfe_yaml.shell.ShellStepType().create({"run": "true"}, step_name="s", workflow_id="w") is not None


def test_every_public_name_resolves() -> None:
    for module in (wfe, wfe_core):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
            assert name in dir(module)
    assert wfe.WorkflowBuilder is wfe_core.WorkflowBuilder
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = wfe.NoSuchName


def test_the_lazy_help_lists_what_the_loaded_commands_say() -> None:
    from wfe.cli.common import LAZY_COMMANDS, cli

    for name, (module, summary) in LAZY_COMMANDS.items():
        command = cli.load(name)
        assert command is not None and command.callback is not None
        assert command.callback.__module__ == module, name
        first = " ".join((command.help or "").partition("\n\n")[0].split())
        assert first == " ".join(summary.split()), (
            f"LAZY_COMMANDS[{name!r}] differs from the command's docstring"
        )

    lazy = subprocess.run(
        [sys.executable, "-c", cli_code("--help")], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv = ['wfe', '--help']\n"
            "from wfe.cli.common import LAZY_COMMANDS, cli\n"
            "for name in LAZY_COMMANDS: cli.load(name)\n"
            "from wfe.cli import main; main()",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert lazy.stdout == loaded.stdout
    assert all(f"  {name} " in lazy.stdout for name in LAZY_COMMANDS)


def test_a_mistyped_command_is_matched_against_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-c", cli_code("lis")], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert "No such command 'lis'" in done.stderr
    assert "'list'" in done.stderr
