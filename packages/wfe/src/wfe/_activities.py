"""Activities: what an external worker receives when it takes one, and the host's verbs for workers."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from wfe._options import HostOptions
from wfe_core.errors import SubscriptionNotFoundError
from wfe_core.models import ACTIVITY_EVENT_NAME
from wfe_core.primitives.activity import FAILURE, SUCCESS
from wfe_core.protocols import Clock, PersistenceProvider

ACTIVITY_RESULT_EVENT_NAME = "wfe.activity.result"
"""Reserved event carrying a worker's result; its key is the activity's subscription id."""


@dataclass(frozen=True, slots=True)
class PendingActivity:
    """A leased activity: submit its result with ``token`` before ``token_expiry``."""

    token: str
    activity_name: str
    parameters: Any
    token_expiry: datetime


def make_token(subscription_id: str, secret: str) -> str:
    return f"{subscription_id}.{secret}"


def parse_token(token: str) -> tuple[str, str]:
    subscription_id, sep, secret = token.rpartition(".")
    if not sep or not subscription_id or not secret:
        raise SubscriptionNotFoundError(token, "malformed activity token")
    return subscription_id, secret


class ActivityVerbs:
    """The host's verbs for external workers (mixed into ``WorkflowHost``)."""

    persistence: PersistenceProvider
    options: HostOptions
    clock: Clock

    if TYPE_CHECKING:  # WorkflowHost's

        async def publish_event(
            self,
            event_name: str,
            event_key: str,
            event_data: Any = None,
            effective_date: datetime | None = None,
        ) -> str: ...

    # -- activities ----------------------------------------------------------------------------------------

    async def get_pending_activity(
        self, activity_name: str, worker_id: str, timeout: timedelta = timedelta(seconds=0)
    ) -> PendingActivity | None:
        """Take the oldest open activity of this name for ``worker_id``, waiting up to ``timeout``. The lease
        expires after ``activity_lease``; an expired one is offered to other workers again."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout.total_seconds()
        while True:
            now = self.clock.now()
            subscription = await self.persistence.get_first_open_subscription(
                ACTIVITY_EVENT_NAME, activity_name, now
            )
            if subscription is not None:
                secret = secrets.token_urlsafe(16)
                expiry = now + self.options.activity_lease
                if await self.persistence.set_subscription_token(
                    subscription.id, secret, worker_id, expiry, now=now
                ):
                    return PendingActivity(
                        token=make_token(subscription.id, secret),
                        activity_name=activity_name,
                        parameters=subscription.subscription_data,
                        token_expiry=expiry,
                    )
                continue
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))

    async def submit_activity_success(self, token: str, result: Any = None) -> None:
        """Complete the activity leased with ``token``; its step proceeds with ``result``."""
        await self._submit_activity(token, {"status": SUCCESS, "data": result})

    async def submit_activity_failure(self, token: str, error: Any = None) -> None:
        """Fail the activity; its step fails with ActivityFailedError and its error behaviour applies."""
        await self._submit_activity(token, {"status": FAILURE, "data": error})

    async def release_activity(self, token: str) -> None:
        """Give the activity back without a result, so another worker can take it now."""
        subscription_id, secret = parse_token(token)
        await self.persistence.clear_subscription_token(subscription_id, secret)

    async def _submit_activity(self, token: str, payload: dict[str, Any]) -> None:
        subscription_id, secret = parse_token(token)
        subscription = await self.persistence.get_subscription(subscription_id)
        if subscription.external_token != secret:
            raise SubscriptionNotFoundError(
                subscription_id, "the activity token does not match (lease expired?)"
            )
        await self.publish_event(ACTIVITY_RESULT_EVENT_NAME, subscription_id, payload)
