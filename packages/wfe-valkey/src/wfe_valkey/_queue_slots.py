"""The slots of queues with limits on Valkey (``QueueSlotStore``), for hosts whose queue provider it is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from redis.commands.core import AsyncScript

from wfe_core.errors import QueueError
from wfe_core.models import QueueState, SlotDecision, SlotRequest
from wfe_core.slot_decisions import Waiter, serving_order
from wfe_valkey._connection import ClientHandle
from wfe_valkey._retry import call_script

# Keys of one queue under {prefix}:qslots:{queue}: slots (hash, instance id -> "token|expires ms"), starts
# (sorted set, token -> start ms), waiters (hash, instance id -> "priority|since ms|live until ms"); and one
# hash for every queue, {prefix}:qslots-tokens (token -> "queue|instance id"). Times are the requester's, in
# milliseconds since the epoch. The decision is the one of wfe_core.slot_decisions.decide.

_ACQUIRE = """
local wid, token = ARGV[1], ARGV[2]
local now, expires = tonumber(ARGV[3]), tonumber(ARGV[4])
local conc, rcount, period = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local prio, wttl, queue = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local held = 0
local slots = redis.call('HGETALL', KEYS[1])
for i = 1, #slots, 2 do
  local w, v = slots[i], slots[i + 1]
  local sep = string.find(v, '|', 1, true)
  local tok, exp = string.sub(v, 1, sep - 1), tonumber(string.sub(v, sep + 1))
  if exp <= now then
    redis.call('HDEL', KEYS[1], w)
    redis.call('HDEL', KEYS[4], tok)
  elseif w ~= wid then
    held = held + 1
  end
end
local unbounded = true
local capacity = 0
if conc >= 0 then
  unbounded = false
  capacity = conc - held
end
local retry = -1
if rcount >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - period)
  local n = redis.call('ZCARD', KEYS[2])
  if n >= rcount then
    local oldest = redis.call('ZRANGE', KEYS[2], n - rcount, n - rcount, 'WITHSCORES')
    retry = tonumber(oldest[2]) + period
  end
  if unbounded or rcount - n < capacity then
    capacity = rcount - n
  end
  unbounded = false
end
local mysince = now
local mine = redis.call('HGET', KEYS[3], wid)
if mine then
  local a = string.find(mine, '|', 1, true)
  local b = string.find(mine, '|', a + 1, true)
  mysince = tonumber(string.sub(mine, a + 1, b - 1))
end
local granted = false
if unbounded then
  granted = true
elseif capacity > 0 then
  local ahead = 0
  local waiters = redis.call('HGETALL', KEYS[3])
  for i = 1, #waiters, 2 do
    local w, v = waiters[i], waiters[i + 1]
    local a = string.find(v, '|', 1, true)
    local b = string.find(v, '|', a + 1, true)
    local p, since, live = tonumber(string.sub(v, 1, a - 1)), tonumber(string.sub(v, a + 1, b - 1)), tonumber(string.sub(v, b + 1))
    if live <= now then
      redis.call('HDEL', KEYS[3], w)
    elseif w ~= wid and (p < prio or (p == prio and (since < mysince or (since == mysince and w < wid)))) then
      ahead = ahead + 1
    end
  end
  granted = ahead < capacity
end
if granted then
  local previous = redis.call('HGET', KEYS[1], wid)
  if previous then
    redis.call('HDEL', KEYS[4], string.sub(previous, 1, string.find(previous, '|', 1, true) - 1))
  end
  redis.call('HSET', KEYS[1], wid, token .. '|' .. expires)
  redis.call('HSET', KEYS[4], token, queue .. '|' .. wid)
  redis.call('HDEL', KEYS[3], wid)
  if rcount >= 0 then
    redis.call('ZADD', KEYS[2], now, token)
  end
  return {1, -1}
end
redis.call('HSET', KEYS[3], wid, prio .. '|' .. mysince .. '|' .. (now + wttl))
return {0, retry}
"""

# ARGV: now ms, until ms, then the tokens of the queue; returns the tokens renewed.
_RENEW = """
local now, deadline = tonumber(ARGV[1]), ARGV[2]
local renewed = {}
for i = 3, #ARGV do
  local token = ARGV[i]
  local owner = redis.call('HGET', KEYS[2], token)
  if owner then
    local wid = string.sub(owner, string.find(owner, '|', 1, true) + 1)
    local v = redis.call('HGET', KEYS[1], wid)
    if v then
      local sep = string.find(v, '|', 1, true)
      if string.sub(v, 1, sep - 1) == token and tonumber(string.sub(v, sep + 1)) > now then
        redis.call('HSET', KEYS[1], wid, token .. "|" .. deadline)
        table.insert(renewed, token)
      end
    end
  end
end
return renewed
"""

_RELEASE = """
local owner = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if owner then
  local wid = string.sub(owner, string.find(owner, '|', 1, true) + 1)
  local v = redis.call('HGET', KEYS[1], wid)
  if v and string.sub(v, 1, string.find(v, '|', 1, true) - 1) == ARGV[1] then
    redis.call('HDEL', KEYS[1], wid)
  end
end
return 1
"""


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ValkeyQueueSlots:
    """``QueueSlotStore`` on Valkey: each decision is one Lua script, atomic on the server. The request's time
    is read (``at_decision``) just before the script is sent."""

    _handle: ClientHandle
    _prefix: str
    _retry_timeout: float
    _reply_timeout: float
    _slot_scripts: tuple[Any, dict[str, AsyncScript]] | None = None

    def _slot_lua(self, name: str) -> AsyncScript:
        client = self._handle.acquire()
        if self._slot_scripts is None or self._slot_scripts[0] is not client:
            self._slot_scripts = (
                client,
                {
                    "acquire": client.register_script(_ACQUIRE),
                    "renew": client.register_script(_RENEW),
                    "release": client.register_script(_RELEASE),
                },
            )
        return self._slot_scripts[1][name]

    def _slot_keys(self, queue: str) -> list[str]:
        base = f"{self._prefix}:qslots:{queue}"
        return [f"{base}:slots", f"{base}:starts", f"{base}:waiters", f"{self._prefix}:qslots-tokens"]

    async def _script(self, name: str, keys: list[str], args: list[Any], what: str) -> Any:
        return await call_script(
            self._slot_lua(name),
            keys,
            args,
            what=what,
            error=QueueError,
            retry_timeout=self._retry_timeout,
            reply_timeout=self._reply_timeout,
        )

    async def acquire_queue_slot(self, request: SlotRequest) -> SlotDecision:
        request = request.at_decision()
        count, period = request.rate_limit if request.rate_limit is not None else (-1, None)
        granted, retry = await self._script(
            "acquire",
            self._slot_keys(request.queue),
            [
                request.workflow_id,
                request.token,
                _ms(request.now),
                _ms(request.expires_at),
                -1 if request.concurrency is None else request.concurrency,
                count,
                0 if period is None else round(period.total_seconds() * 1000),
                request.priority,
                round(request.waiter_ttl.total_seconds() * 1000),
                request.queue,
            ],
            f"asking for a slot of queue {request.queue!r}",
        )
        return SlotDecision(
            int(granted) == 1, None if int(retry) < 0 else _time(int(retry)), _time(_ms(request.now))
        )

    async def _owners(self, tokens: Sequence[str]) -> dict[str, list[str]]:
        client = self._handle.acquire()
        owners = await client.hmget(f"{self._prefix}:qslots-tokens", list(tokens))
        by_queue: dict[str, list[str]] = {}
        for token, owner in zip(tokens, owners, strict=True):
            if owner is not None:
                queue = _text(owner).rsplit("|", 1)[0]
                by_queue.setdefault(queue, []).append(token)
        return by_queue

    async def renew_queue_slots(self, tokens: Sequence[str], now: datetime, until: datetime) -> list[str]:
        if not tokens:
            return []
        renewed: list[str] = []
        for queue, mine in (await self._owners(tokens)).items():
            keys = self._slot_keys(queue)
            found = await self._script(
                "renew", [keys[0], keys[3]], [_ms(now), _ms(until), *mine], f"renewing slots of {queue!r}"
            )
            renewed.extend(_text(token) for token in found)
        return renewed

    async def release_queue_slot(self, token: str) -> None:
        for queue in await self._owners([token]):
            keys = self._slot_keys(queue)
            await self._script("release", [keys[0], keys[3]], [token], f"freeing a slot of {queue!r}")

    async def queue_state(self, queue: str, now: datetime) -> QueueState:
        client = self._handle.acquire()
        keys = self._slot_keys(queue)
        slots = await client.hgetall(keys[0])
        waiters = await client.hgetall(keys[2])
        at = _ms(now)
        held = sorted(_text(w) for w, v in slots.items() if int(_text(v).rsplit("|", 1)[1]) > at)
        parsed = []
        for w, v in waiters.items():
            priority, since, live = _text(v).split("|")
            parsed.append(Waiter(_text(w), int(priority), _time(int(since)), _time(int(live))))
        return QueueState(held=held, waiting=serving_order(parsed, now))
