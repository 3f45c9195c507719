"""``##wfe[...]`` lines on a command's stdout: the untrusted output channel.

Whatever a step prints may come from someone else (a file it shows, a test's output, a commit message), so a
printed line is held to more than the ``$WFE_OUTPUT`` file the command writes on purpose:

- ``##wfe[output name=value]`` sets output ``name`` only when ``name`` has the safe form (letters, digits,
  ``_``, ``.``, ``-``; at most 128 characters, not starting with a digit, ``.`` or ``-``) and adds a key: a
  name that the data already holds when the step starts, or that becomes the same environment variable as a
  key it holds, is refused (write it to ``$WFE_OUTPUT`` to replace a key);
- ``##wfe[stop-commands TOKEN]`` ignores every directive until a line ``##wfe[TOKEN]``, like GitHub
  Actions' ``::stop-commands::``, for printing untrusted text in a step that also sets outputs.

A refused line is reported in the step log; the step goes on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from wfe_yaml.shell.environment import env_name
from wfe_yaml.shell.outputs import parse_directive

DIRECTIVE_START = "##wfe["
STOP_PREFIX = "##wfe[stop-commands "
SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
MAX_PRINTED_OUTPUTS = 1000  # names one step may set through printed lines
MAX_NOTES = 20  # refused lines reported in the step log, then one note that more were refused


class DirectiveReader:
    """Collects the outputs a command's stdout lines set, under the rules above."""

    def __init__(
        self,
        existing_keys: Iterable[str],
        note: Callable[[str], None],
        *,
        enabled: bool = True,
        byte_limit: int = 1024 * 1024,
    ):
        """``byte_limit``: how many bytes of names and values printed lines may set in all (the step's
        ``output_limit``), so a flood of directives cannot grow the data without bound."""
        self.outputs: dict[str, Any] = {}
        self.enabled = enabled
        self._report = note
        self._notes = 0
        self._bytes_left = byte_limit
        self._held = {env_name(str(key)): str(key) for key in existing_keys}
        self._stop_token: str | None = None
        self._names: dict[str, str] = {}  # environment name -> the output name this step set

    def feed(self, line: str) -> None:
        """Read one stdout line (without its line break)."""
        if not self.enabled or not line.startswith(DIRECTIVE_START):
            return
        if self._stop_token is not None:
            if line == f"{DIRECTIVE_START}{self._stop_token}]":
                self._stop_token = None
            return
        if line.startswith(STOP_PREFIX) and line.endswith("]"):
            token = line[len(STOP_PREFIX) : -1].strip()
            if token and "]" not in token:
                self._stop_token = token
            else:
                self._note(
                    "wfe: ignored '##wfe[stop-commands]' without a token: write ##wfe[stop-commands TOKEN]"
                )
            return
        parsed = parse_directive(line)
        if parsed is None:
            return
        name, value = parsed
        if not SAFE_NAME.fullmatch(name):
            self._note(
                f"wfe: ignored an output line: {name[:64]!r} is not an output name (letters, digits, '_', '.', "
                "'-'; at most 128 characters); write unusual names to $WFE_OUTPUT"
            )
            return
        held = self._held.get(env_name(name))
        if held is not None:
            self._note(
                f"wfe: ignored the output line for '{name}': the data already holds '{held}', and a printed "
                "line may add a key but not replace one; write it to $WFE_OUTPUT to replace it"
            )
            return
        size = len(line.encode("utf-8", errors="surrogatepass"))
        if size > self._bytes_left or (name not in self.outputs and len(self.outputs) >= MAX_PRINTED_OUTPUTS):
            self._note(
                f"wfe: ignored the output line for '{name}': printed lines may set at most {MAX_PRINTED_OUTPUTS} "
                "outputs and output_limit bytes in all; write large outputs to $WFE_OUTPUT"
            )
            return
        variable = env_name(name)
        mine = self._names.setdefault(variable, name)
        if mine != name:
            self._note(
                f"wfe: ignored the output line for '{name}': this step already set '{mine}', which becomes the "
                f"same environment variable ${variable}"
            )
            return
        self._bytes_left -= size
        self.outputs[name] = value

    def _note(self, text: str) -> None:
        self._notes += 1
        if self._notes <= MAX_NOTES:
            self._report(text)
        elif self._notes == MAX_NOTES + 1:
            self._report(f"wfe: more than {MAX_NOTES} output lines were ignored; the rest are not reported")
