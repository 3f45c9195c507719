"""The errors of the YAML frontend.

Every error derives from :class:`YamlError` (itself a ``wfe_core.errors.WfeError``) and carries the file
(``path``), 1-based ``line`` and ``column`` of the offending node, formatting as
``file:line:column: message``::

    YamlError
    ├── YamlIOError                 a file (or an include) could not be read
    ├── YamlParseError              not valid YAML
    ├── YamlInterpolationError      a ``((var))`` / ``${{ var }}`` names a missing config value
    ├── YamlValidationError         the document breaks the format (unknown keys, wrong types, rules)
    │   └── UnknownStepTypeError    no installed plugin provides the ``type:``
    ├── StepTypeUnavailableError    the plugin providing the type could not be imported
    │   └── StepTypeNotInstalledError   ... because a package it needs is missing (also a MissingExtraError of
    │                                   wfe_core.errors: names the install command)
    └── YamlCompilationError        the workflow could not be turned into a definition

:class:`YamlWarning` (a ``UserWarning``) reports what a file asks for that wfe ignores; strict loading turns it
into a :class:`YamlValidationError`.
"""

from __future__ import annotations

from wfe_core.errors import MissingExtraError, WfeError
from wfe_core.install import install_hint, pip_command


class YamlError(WfeError):
    """Root of the YAML frontend's errors; ``str()`` reads ``file:line:column: message``."""

    def __init__(
        self, message: str, *, path: str = "<string>", line: int | None = None, column: int | None = None
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        # Not super(): a subclass may also derive from an error whose constructor takes other arguments.
        Exception.__init__(self, self._format())

    def _format(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class YamlIOError(YamlError):
    """A workflow file or one of its includes could not be read."""


class YamlParseError(YamlError):
    """The text is not valid YAML (or uses a construct the format forbids, such as a duplicate key)."""


class YamlInterpolationError(YamlError):
    """An interpolation placeholder names a variable missing from the config."""

    def __init__(
        self, variable: str, *, path: str = "<string>", line: int | None = None, column: int | None = None
    ) -> None:
        self.variable = variable
        super().__init__(
            f"Interpolation error: unresolved variable '{variable}' (pass it in the config, e.g. "
            f"--var {variable}=...)",
            path=path,
            line=line,
            column=column,
        )


class YamlValidationError(YamlError):
    """The document does not follow the workflow format."""


class UnknownStepTypeError(YamlValidationError):
    """No installed plugin provides the step's ``type:``."""

    def __init__(
        self,
        step_type: str,
        available: list[str],
        *,
        step_name: str,
        path: str = "<string>",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.step_type = step_type
        self.available = available
        self.step_name = step_name
        super().__init__(
            f"Unknown step type: '{step_type}' (step '{step_name}'). Available types: "
            f"{', '.join(available) or 'none'}. A plugin can provide it by registering an entry point named "
            f"'{step_type}' in the 'wfe.steps' group",
            path=path,
            line=line,
            column=column,
        )


class StepTypeUnavailableError(YamlError):
    """The plugin that provides a step type is installed but cannot be imported."""

    def __init__(
        self,
        step_type: str,
        reason: str,
        install: str | None,
        *,
        path: str = "<string>",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.step_type = step_type
        self.install = install
        hint = f": {install_hint(install)}" if install else ""
        super().__init__(
            f"step type '{step_type}' is unavailable ({reason}){hint}", path=path, line=line, column=column
        )


class StepTypeNotInstalledError(StepTypeUnavailableError, MissingExtraError):
    """The plugin that provides a step type needs a package that is not installed; ``install`` (and
    ``requirement``) is what to install, ``install_command`` the command (``pip install "wfe-yaml[js]"``)."""

    def __init__(
        self,
        step_type: str,
        reason: str,
        install: str,
        *,
        path: str = "<string>",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.package = install.split("[")[0]
        self.extra = install.partition("[")[2].rstrip("]")
        self.requirement = install
        self.install_command = pip_command(install)
        super().__init__(step_type, reason, install, path=path, line=line, column=column)


class YamlCompilationError(YamlError):
    """A valid workflow could not be compiled into a definition."""


class YamlWarning(UserWarning):
    """A file loads, but part of it is ignored (a key of the Rust WFE's schema that wfe does not implement).

    ``str()`` reads ``file:line:column: message`` like the errors. The loaders attach these to what they return
    (``CompiledWorkflow.warnings``), issue them with :func:`warnings.warn`, and raise them as a
    :class:`YamlValidationError` instead with ``strict=True``.
    """

    def __init__(
        self, message: str, *, path: str = "<string>", line: int | None = None, column: int | None = None
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        super().__init__(YamlError(message, path=path, line=line, column=column).args[0])

    def as_error(self) -> YamlValidationError:
        """This warning as the error ``strict=True`` raises."""
        return YamlValidationError(
            f"{self.message} (an error in strict mode: remove the key, or load without strict)",
            path=self.path,
            line=self.line,
            column=self.column,
        )
