"""A pizza shop in one workflow: every builder verb of wfe in a runnable example.

Run it with ``python examples/pizza.py`` (add ``sqlite:///pizza.db`` as an argument to keep state on disk).
It prints each lifecycle event with its step (and an error with its message) and the final order. The oven fails
once on purpose: its failure is also logged on the ``wfe.steps`` logger, with its traceback, before the retry.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta

from pydantic import BaseModel

from wfe import (
    ErrorBehavior,
    ExecutionResult,
    LifecycleEvent,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowHostBuilder,
    WorkflowStatus,
)


class Order(BaseModel):
    customer: str = ""
    toppings: list[str] = []
    size: str = "medium"
    paid: bool = False
    oven_temperature: int = 0
    prepared: list[str] = []
    boxes: int = 0
    log: list[str] = []
    delivery_quote: float = 0.0
    receipt: dict[str, object] = {}
    feedback: object = None
    stock_checks: int = 0
    reminders: int = 0


class TakePayment(StepBody):
    """Charges the customer; its compensation refunds them."""

    amount: float = 0.0

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        ctx.data.log.append(f"charged {self.amount:.2f} (key {ctx.idempotency_key[:8]})")
        return ExecutionResult.next()


class Refund(StepBody):
    async def run(self, ctx: StepExecutionContext) -> None:
        ctx.data.log.append("refunded")


class PrepareTopping(StepBody):
    """Runs once per topping (``ctx.item``), all toppings at once."""

    async def run(self, ctx: StepExecutionContext) -> None:
        await asyncio.sleep(0.01)
        ctx.data.prepared.append(str(ctx.item))


class FlakyOven(StepBody):
    """Fails on its first attempt; the retry policy brings it back."""

    def run(self, ctx: StepExecutionContext) -> ExecutionResult:  # a plain def runs in a worker thread
        if ctx.pointer.retry_count == 0:
            raise RuntimeError("oven not hot yet (the first attempt fails on purpose)")
        ctx.data.oven_temperature = 250
        return ExecutionResult.next()


class Box(StepBody):
    async def run(self, ctx: StepExecutionContext) -> None:
        ctx.data.boxes += 1


def size_of(order: Order) -> str:
    return order.size


def withdraw_quote(ctx: StepExecutionContext) -> None:
    ctx.data.delivery_quote = 0.0


def remind(ctx: StepExecutionContext) -> None:
    ctx.data.reminders += 1


def check_stock(ctx: StepExecutionContext) -> None:
    ctx.data.stock_checks += 1


def build_pizza_workflow():
    return (
        WorkflowBuilder(Order)
        .start_with(TakePayment)
        .name("Take payment")
        .id("payment")
        .input("amount", lambda data, ctx: 9.5 + 1.5 * len(data.toppings))
        .compensate_with(Refund)
        .then_fn(lambda ctx: ctx.data.log.append("order accepted"))
        .name("Accept")
        # parallel branches run concurrently
        .parallel()
        .do(lambda b: b.then_fn(lambda ctx: ctx.data.log.append("dough stretched"), name="Stretch dough"))
        .do(lambda b: b.then_fn(lambda ctx: ctx.data.log.append("sauce ready"), name="Make sauce"))
        .do(
            lambda b: b.start_with(FlakyOven, name="Heat oven").on_error(
                ErrorBehavior.retry(timedelta(milliseconds=50), 3)
            )
        )
        .join()
        # one branch per topping, concurrently; then the same sequentially
        .for_each(lambda data: data.toppings, lambda b: b.start_with(PrepareTopping, name="Prepare topping"))
        .for_each(
            lambda data: data.toppings,
            lambda b: b.then_fn(lambda ctx: None, name="Check topping"),
            parallel=False,
        )
        # decide/branch: an outcome picks the branch
        .decide(size_of)
        .branch(
            "large", lambda b: b.then_fn(lambda ctx: ctx.data.log.append("extra large box"), name="Large box")
        )
        .branch(
            "medium", lambda b: b.then_fn(lambda ctx: ctx.data.log.append("medium box"), name="Medium box")
        )
        # a step returning an outcome, followed by when blocks sharing one switch
        .then_fn(lambda ctx: ExecutionResult.outcome("gluten-free" in ctx.data.toppings), name="Gluten-free?")
        .when(
            True, lambda b: b.then_fn(lambda ctx: ctx.data.log.append("separate oven tray"), name="Own tray")
        )
        .when(False, lambda b: b.then_fn(lambda ctx: ctx.data.log.append("shared tray"), name="Shared tray"))
        # if and while
        .if_do(
            lambda data: len(data.toppings) > 2,
            lambda b: b.then_fn(lambda ctx: ctx.data.log.append("well loaded"), name="Note the load"),
        )
        .while_do(lambda data: data.boxes < 2, lambda b: b.start_with(Box, name="Fold a box"))
        # a saga: if the courier booking fails, the quote is withdrawn
        .saga(
            lambda s: (
                s.then_fn(lambda ctx: setattr(ctx.data, "delivery_quote", 4.0), name="Quote delivery")
                .compensate_with(withdraw_quote)
                .then_fn(lambda ctx: ctx.data.log.append("courier booked"), name="Book courier")
            )
        )
        .compensate_with_sequence(
            lambda c: c.then_fn(lambda ctx: ctx.data.log.append("pickup instead"), name="Offer pickup")
        )
        # wait for the oven timer event, then a durable delay
        .wait_for("oven.timer", lambda data, ctx: ctx.workflow.id)
        .output("log", lambda step, data: [*data.log, f"timer says {step.event_data}"])
        .delay(timedelta(milliseconds=50))
        # an external worker packs the order (activity), a child workflow prints the receipt
        .activity("pack", lambda data, ctx: {"boxes": data.boxes})
        .output("log", lambda step, data: [*data.log, f"packed by {step.result}"])
        .sub_workflow("receipt", data_fn=lambda data, ctx: {"customer": data.customer, "total": 9.5})
        .output("receipt", lambda step: step.result)
        # background branches: a one-off reminder and a stock check repeated until done
        .schedule(timedelta(milliseconds=20))
        .do(lambda b: b.then_fn(remind, name="Remind"))
        .recur(timedelta(milliseconds=30), lambda data: data.stock_checks >= 2)
        .do(lambda b: b.then_fn(check_stock, name="Check stock"))
        # ask for feedback, but give up waiting once the shop closes
        .wait_for("feedback", lambda data, ctx: ctx.workflow.id)
        .cancel_condition(lambda data: data.stock_checks >= 2, proceed=True)
        .then_fn(
            lambda ctx: ExecutionResult.outcome("done" if ctx.data.boxes >= 2 else "again"), name="Boxes?"
        )
        .id("check")
        .when("again", lambda b: b.start_with(Box, name="Fold a box").attach("check"))
        .then_fn(lambda ctx: ctx.data.log.append("delivered"), name="Deliver")
        .end_workflow()
        .build("pizza", 1)
    )


def build_receipt_workflow():
    return (
        WorkflowBuilder()
        .then_fn(
            lambda ctx: ctx.data.update(text=f"Thanks {ctx.data['customer']}: {ctx.data['total']:.2f}"),
            name="Print receipt",
        )
        .build("receipt", 1)
    )


async def run_pizza(host: WorkflowHost, *, verbose: bool = True) -> Order:
    host.register_workflow(build_pizza_workflow())
    host.register_workflow(build_receipt_workflow())
    if verbose:
        host.on_lifecycle_event(print_event)
    async with host:
        order = Order(customer="Ada", toppings=["basil", "mozzarella", "gluten-free"], size="large")
        wid = await host.start_workflow("pizza", 1, order, reference="order-7")
        worker = asyncio.create_task(pack_orders(host))
        await wait_then_publish(host, wid)
        instance = await host.wait_for_workflow(wid, timeout=timedelta(seconds=30))
        worker.cancel()
        assert instance.status is WorkflowStatus.COMPLETE, instance.status
        return instance.data  # type: ignore[no-any-return]


def print_event(event: LifecycleEvent) -> None:
    """One line per event: its kind, its step, and for an error what went wrong."""
    step = getattr(event, "step_name", None) or ""
    message = getattr(event, "message", None)
    detail = f"{step}: {message}" if message else step
    print(f"  {event.kind:<18} {detail}")


async def wait_then_publish(host: WorkflowHost, workflow_id: str) -> None:
    async for event in host.lifecycle_events():
        if getattr(event, "event_name", None) == "oven.timer" and event.workflow_id == workflow_id:
            await host.publish_event("oven.timer", workflow_id, "ding")
            return


async def pack_orders(host: WorkflowHost) -> None:
    while True:
        pending = await host.get_pending_activity("pack", "packer-1", timeout=timedelta(seconds=1))
        if pending is not None:
            await host.submit_activity_success(pending.token, "packer-1")


def main() -> None:
    logging.basicConfig(format="  %(levelname)s %(name)s: %(message)s")  # where failures are logged
    builder = WorkflowHostBuilder()
    if len(sys.argv) > 1:
        builder.use_persistence(sys.argv[1])
    print("Pizza workflow:")
    order = asyncio.run(run_pizza(builder.build()))
    print("Order log:")
    for line in order.log:
        print(f"  - {line}")
    print(f"Receipt: {order.receipt.get('text')}")


if __name__ == "__main__":
    main()
