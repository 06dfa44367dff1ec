"""Fail fast offline: one quick probe of the Hugging Face Hub before a load that may download.

huggingface_hub retries a refused or unresolvable connection five times with
backoff (about a minute) before it looks in its cache. One TCP connection to the
endpoint, with a short timeout, tells the same thing in at most a few seconds; when
it fails, the load runs in huggingface_hub's offline mode, so weights already in the
cache still load and missing ones fail at once with the backend's usual message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from urllib.parse import urlsplit

LOGGER = logging.getLogger("skclip_sage.encoders")

PROBE_SECONDS = 3.0
# With a proxy the endpoint itself may be unreachable from here while downloads work.
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def hub_reachable(endpoint: str, timeout: float = PROBE_SECONDS) -> bool:
    """Whether a TCP connection to ``endpoint``'s host and port opens within ``timeout`` seconds.

    One deadline covers the name lookup and the connection, and only the first
    address is tried: ``socket.create_connection`` would give each of the
    endpoint's several IPv4 and IPv6 addresses the whole timeout again, so a
    firewall that drops packets silently could cost many times ``timeout``.

    Examples
    --------
    >>> hub_reachable("http://127.0.0.1:1", timeout=0.5)  # nothing listens on port 1
    False
    """
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + timeout
    try:
        # getaddrinfo takes no timeout; a resolver that hangs is bounded by the system's own.
        family, kind, protocol, _, address = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, protocol) as connection:
            connection.settimeout(max(deadline - time.monotonic(), 0.05))
            connection.connect(address)
        return True
    except (OSError, IndexError):  # refused, unresolvable name, no route, timed out
        return False


@contextlib.contextmanager
def offline_unless_reachable():
    """Run the block in huggingface_hub's offline mode when its endpoint cannot be reached.

    Does nothing when offline mode is already on, when a proxy is configured, or
    when huggingface_hub is not installed. The caller holds the registry's load
    lock, so no other model load sees the switch; other code of the same process
    that uses huggingface_hub during the load does (offline, it would fail anyway).
    """
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    if constants.HF_HUB_OFFLINE or any(os.environ.get(name) for name in _PROXY_VARIABLES):
        yield
        return
    if hub_reachable(constants.ENDPOINT):
        yield
        return
    LOGGER.warning(
        "the Hugging Face Hub (%s) cannot be reached from here; looking for the weights in the local cache only",
        constants.ENDPOINT,
    )
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = False
