"""``import``/``export``: refused unless ``dynamic_import`` is on and the module is listed and readable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from wfe_yaml.js import JsPool, JsScriptError

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[JsPool]:
    async with JsPool(size=1) as js_pool:
        yield js_pool


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    (tmp_path / "math.js").write_text(
        "export const double = (n) => n * 2;\nexport default function triple(n) { return n * 3; }\n",
        encoding="utf-8",
    )
    (tmp_path / "typed.ts").write_text(
        "export interface P { n: number }\nexport function square(p: P): number { return p.n ** 2; }\n",
        encoding="utf-8",
    )
    return tmp_path


async def test_static_import_is_denied_by_default(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("import { x } from 'some-lib';\noutput('x', x);", timeout=10)
    assert caught.value.js_message == "Permission denied: import access to 'some-lib'"


async def test_dynamic_import_is_denied_by_default_and_catchable(pool: JsPool) -> None:
    result = await pool.run(
        "try { await import('npm:lodash@4'); } catch (e) { output('error', e.message); }", timeout=10
    )
    assert result.outputs == {"error": "Permission denied: import access to 'npm:lodash@4'"}


async def test_export_is_denied_without_dynamic_import(pool: JsPool) -> None:
    with pytest.raises(JsScriptError, match="Permission denied: import access to 'export'"):
        await pool.run("export const a = 1;", timeout=10)


async def test_listed_module_needs_dynamic_import(pool: JsPool, lib: Path) -> None:
    spec = str(lib / "math.js")
    with pytest.raises(JsScriptError, match="Permission denied: import access"):
        await pool.run(
            f"import {{ double }} from {spec!r}; output('d', double(2));",
            permissions={"read": [str(lib)]},
            modules=[spec],
            timeout=10,
        )


async def test_unlisted_module_is_denied_even_with_dynamic_import(pool: JsPool, lib: Path) -> None:
    with pytest.raises(JsScriptError, match="Permission denied: import access to 'other'"):
        await pool.run(
            "import x from 'other';",
            permissions={"dynamic_import": True, "read": [str(lib)]},
            modules=[str(lib / "math.js")],
            timeout=10,
        )


async def test_allowed_modules_load_statically_and_dynamically(pool: JsPool, lib: Path) -> None:
    math, typed = str(lib / "math.js"), str(lib / "typed.ts")
    result = await pool.run(
        f"""import triple, {{ double }} from {math!r};
        import {{ square }} from {typed!r};
        const again = await import({math!r});
        output("double", double(4));
        output("triple", triple(2));
        output("square", square({{ n: 5 }}));
        output("same", again.double === double);
        """,
        permissions={"dynamic_import": True, "read": [str(lib)]},
        modules=[math, typed],
        timeout=10,
    )
    assert result.outputs == {"double": 8, "triple": 6, "square": 25, "same": True}


async def test_module_source_needs_read_permission(pool: JsPool, lib: Path) -> None:
    spec = str(lib / "math.js")
    with pytest.raises(JsScriptError, match=f"Cannot load module '{spec}': Permission denied: read access"):
        await pool.run(
            f"import {{ double }} from {spec!r};",
            permissions={"dynamic_import": True},
            modules=[spec],
            timeout=10,
        )


async def test_remote_module_source_needs_net_permission(pool: JsPool) -> None:
    with pytest.raises(
        JsScriptError, match="Cannot load module 'npm:left-pad@1': Permission denied: net access"
    ):
        await pool.run(
            "import leftPad from 'npm:left-pad@1';",
            permissions={"dynamic_import": True},
            modules=["npm:left-pad@1"],
            timeout=10,
        )


async def test_module_errors_report_lines_of_the_script(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("import a from 'x';\n", timeout=10)
    assert caught.value.line == 1


async def test_module_syntax_error_names_the_module(pool: JsPool, tmp_path: Path) -> None:
    broken = tmp_path / "broken.js"
    broken.write_text("export const = 1;\n", encoding="utf-8")
    with pytest.raises(JsScriptError, match=f"in module '{broken}'"):
        await pool.run(
            f"import {{ x }} from {str(broken)!r};",
            permissions={"dynamic_import": True, "read": [str(tmp_path)]},
            modules=[str(broken)],
            timeout=10,
        )
