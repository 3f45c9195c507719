"""The examples run end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pizza_example_runs_every_builder_feature_in_memory():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import asyncio

        import pizza
        from wfe import WorkflowHostBuilder

        order = asyncio.run(pizza.run_pizza(WorkflowHostBuilder().build(), verbose=False))
    finally:
        sys.path.remove(str(ROOT / "examples"))
    assert order.log[0].startswith("charged 14.00")
    assert {"dough stretched", "sauce ready", "extra large box", "separate oven tray", "well loaded"} <= set(
        order.log
    )
    assert "timer says ding" in order.log and "packed by packer-1" in order.log
    assert order.log[-1] == "delivered"
    assert sorted(order.prepared) == ["basil", "gluten-free", "mozzarella"]
    assert order.oven_temperature == 250
    assert order.boxes == 2 and order.delivery_quote == 4.0
    assert order.receipt == {"customer": "Ada", "total": 9.5, "text": "Thanks Ada: 9.50"}
    assert order.reminders == 1 and order.stock_checks >= 2


def test_pizza_example_script_on_sqlite(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "pizza.py"), f"sqlite:///{tmp_path}/pizza.db"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "WorkflowCompleted" in result.stdout
    assert "Receipt: Thanks Ada: 9.50" in result.stdout
    assert (tmp_path / "pizza.db").exists()


def test_pizza_example_names_its_steps_and_says_what_failed(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "pizza.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "<lambda>" not in result.stdout
    # the oven's first attempt fails on purpose: the event names the step and the error, the log has its traceback
    assert "WorkflowError      Heat oven: RuntimeError: oven not hot yet" in result.stdout
    assert "WARNING wfe.steps: step 'Heat oven'" in result.stderr
    assert "failed on attempt 1; retrying it at " in result.stderr
    assert "(retry 1 of 3): RuntimeError: oven not hot yet" in result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert "ERROR" not in result.stderr
