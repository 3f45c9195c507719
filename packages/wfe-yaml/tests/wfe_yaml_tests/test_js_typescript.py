"""TypeScript scripts run with their types stripped (sucrase), keeping line numbers; plain JS is never rewritten."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from wfe_yaml.js import JsPool, JsScriptError

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pool() -> AsyncIterator[JsPool]:
    async with JsPool(size=1) as js_pool:
        yield js_pool


TS_SCRIPT = """
interface Order { id: number; items: Item[]; note?: string }
type Item = { sku: string; qty: number };
enum Status { Pending, Shipped = 5, Delivered }
const enum Flag { A = "a", B = "b" }
function total<T extends { qty: number }>(items: readonly T[]): number {
  return items.reduce((n: number, i: T) => n + i.qty, 0);
}
class Box<T> {
  private readonly value: T;
  constructor(value: T) { this.value = value; }
  get(): T { return this.value; }
}
abstract class Shape { abstract area(): number }
class Square extends Shape { constructor(public side: number) { super(); } area() { return this.side ** 2; } }
const order = inputs() as Order;
const first = order.items[0]!;
const checked = { n: 1 } satisfies { n: number };
let later: string;
later = `sku ${first.sku}`;
await new Promise<void>((resolve) => setTimeout(resolve, 1));
output("total", total<Item>(order.items));
output("status", [Status.Pending, Status.Shipped, Status.Delivered, Status[5]]);
output("flag", Flag.B);
output("box", new Box<string>("boxed").get());
output("area", new Square(3).area());
output("later", later);
output("checked", checked.n);
"""


async def test_typescript_with_interfaces_enums_and_generics_runs(pool: JsPool) -> None:
    result = await pool.run(
        TS_SCRIPT, data={"id": 1, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 3}]}, timeout=10
    )
    assert result.outputs == {
        "total": 5,
        "status": [0, 5, 6, "Shipped"],
        "flag": "b",
        "box": "boxed",
        "area": 9,
        "later": "sku a",
        "checked": 1,
    }


async def test_typescript_error_keeps_the_source_line(pool: JsPool) -> None:
    script = "interface A {\n  x: number;\n}\nconst a: A = { x: 1 };\nthrow new Error(`bad ${a.x}`);\n"
    with pytest.raises(JsScriptError) as caught:
        await pool.run(script, timeout=10)
    assert caught.value.js_message == "bad 1"
    assert caught.value.line == 5


async def test_typescript_syntax_error_reports_the_original_error(pool: JsPool) -> None:
    with pytest.raises(JsScriptError) as caught:
        await pool.run("const a: number = 1;\nconst b = ;\n", timeout=10)
    assert caught.value.name == "SyntaxError"
    assert caught.value.line == 2


async def test_plain_javascript_is_not_transpiled(pool: JsPool) -> None:
    # Sloppy-mode JavaScript that a TypeScript pass would rewrite (`a < b > (c)` reads as a generic call in TS).
    result = await pool.run(
        "var a = 1, b = 2, c = 3; output('r', a < b > (c)); with ({w: 4}) { output('w', w); }", timeout=10
    )
    assert result.outputs == {"r": False, "w": 4}


async def test_transpiles_are_cached(pool: JsPool) -> None:
    script = (
        "type N = number;\n" + "".join(f"const x{i}: N = {i};\n" for i in range(2000)) + "output('ok', x1)"
    )
    await pool.run(script, timeout=10)
    started = time.perf_counter()
    for _ in range(5):
        assert (await pool.run(script, timeout=10)).outputs == {"ok": 1}
    assert (time.perf_counter() - started) / 5 < 0.2
