"""wfe-valkey: distributed lock, reliable queue and lifecycle hub for wfe on Valkey or Redis.

Install with ``pip install "wfe[valkey]"``; a host picks these providers for ``redis://``, ``rediss://``,
``valkey://`` and ``valkeys://`` URLs.
"""

from wfe_valkey._url import ValkeyUrl, parse_valkey_url
from wfe_valkey.lifecycle import ValkeyLifecycleHub
from wfe_valkey.lock import ValkeyLock
from wfe_valkey.queue import ValkeyQueue

__all__ = ["ValkeyLifecycleHub", "ValkeyLock", "ValkeyQueue", "ValkeyUrl", "parse_valkey_url"]
