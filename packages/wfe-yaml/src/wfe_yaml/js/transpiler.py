"""TypeScript type stripping and ``import``/``export`` rewriting with the vendored sucrase, in the worker.

sucrase runs in a V8 context of its own that lives as long as the worker (loading it costs ~40 ms once); no
user code ever runs there. Its output keeps every line where it was, so error line numbers stay the script's
own.
Results are cached by a hash of the source, since the same step usually runs many times.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from importlib import resources
from typing import Any

_CACHE_SIZE = 256
_SUCRASE_POSITION = re.compile(r"\((\d+):(\d+)\)\s*$")
# Cheap and deliberately loose: a match in a string or comment only means the script goes through the
# import rewrite, which leaves such text alone.
_MODULE_SYNTAX = re.compile(
    r"""^[ \t]*import[ \t]*[\w*{"']|^[ \t]*export\b|\bimport[ \t]*\(|\bimport[ \t]*\.[ \t]*meta\b""",
    re.MULTILINE,
)

_TRANSFORM_FUNCTION = """(source, transforms) => {
  try {
    const options = { transforms: transforms.split(","), disableESTransforms: true };
    const r = globalThis.__wfeSucraseTransform(source, options);
    return JSON.stringify({ code: r.code });
  } catch (e) {
    return JSON.stringify({ error: String(e && e.message || e) });
  }
}"""


class TranspileError(Exception):
    """The source is neither JavaScript nor TypeScript that sucrase understands."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def needs_module_transform(source: str) -> bool:
    """True when the source may use ``import``/``export`` (static or dynamic), which a V8 script cannot."""
    return _MODULE_SYNTAX.search(source) is not None


class Transpiler:
    """sucrase in a long-lived V8 context, loaded on first use."""

    def __init__(self) -> None:
        self._racer: Any = None
        self._transform: Any = None
        self._cache: OrderedDict[str, str | TranspileError] = OrderedDict()

    def strip_types(self, source: str) -> str:
        """``source`` with its TypeScript syntax removed (enums become objects); lines keep their numbers."""
        return self._cached(source, ("typescript",))

    def to_commonjs(self, source: str) -> str:
        """``source`` with ``import``/``export`` (and ``import()``) turned into ``require``/``exports``.

        Tries the source as JavaScript first, then as TypeScript.
        """
        try:
            return self._cached(source, ("imports",))
        except TranspileError:
            return self._cached(source, ("typescript", "imports"))

    def _cached(self, source: str, transforms: tuple[str, ...]) -> str:
        key = hashlib.sha256(("\0".join(transforms) + "\0" + source).encode()).hexdigest()
        hit = self._cache.get(key)
        if hit is None:
            hit = self._run(source, transforms)
            self._cache[key] = hit
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        if isinstance(hit, TranspileError):
            raise hit
        return hit

    def _run(self, source: str, transforms: tuple[str, ...]) -> str | TranspileError:
        if self._transform is None:
            from py_mini_racer import MiniRacer

            racer = MiniRacer()
            bundle = (
                resources.files("wfe_yaml.js").joinpath("vendor/sucrase.min.js").read_text(encoding="utf-8")
            )
            racer.eval(bundle)
            self._transform = racer.eval(_TRANSFORM_FUNCTION)
            self._racer = racer
        reply = json.loads(self._transform(source, ",".join(transforms)))
        if "code" in reply:
            return str(reply["code"])
        message = str(reply["error"])
        position = _SUCRASE_POSITION.search(message)
        line = int(position.group(1)) if position else None
        text = _SUCRASE_POSITION.sub("", message).strip()
        return TranspileError(text, line)
