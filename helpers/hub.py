"""Is the Hugging Face Hub reachable? Decided once, in a couple of seconds at most."""

from __future__ import annotations

import functools
import os
import socket
import threading
from urllib.parse import urlparse

TRUTHY = {"1", "true", "yes", "on"}


def offline_requested() -> bool:
    """True when the user asked for offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(v, "").strip().lower() in TRUTHY for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_host() -> tuple[str, int]:
    """Host and port of the Hub endpoint (HF_ENDPOINT lets a mirror stand in)."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)


def _can_connect(host: str, port: int, timeout: float) -> bool:
    """Open (and close) one TCP connection; any failure means unreachable."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hub answers; never waits longer than `timeout` seconds.

    The probe runs in a thread because a DNS lookup can hang past any socket
    timeout; without this guard a single offline `from_pretrained` spends tens
    of seconds in retries.
    """
    if offline_requested():
        return False
    result: list[bool] = []
    probe = threading.Thread(target=lambda: result.append(_can_connect(*hub_host(), timeout)), daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(result and result[0])
