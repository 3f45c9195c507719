"""What an external worker receives when it takes an activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wfe_core.errors import SubscriptionNotFoundError

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
