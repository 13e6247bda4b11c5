"""The Hugging Face Hub, offline-first: is it there (an HTTP answer within 3 s), and downloads that
cannot hang.

A TCP connection is not enough to call the Hub reachable: a proxy, a captive portal or a dead mirror
accepts connections and then never answers, or answers 403 to everything. So the probe asks the Hub's
API for one model card and believes only a JSON answer. A download is watched and abandoned as soon as
no byte has arrived for `STALL_SECONDS`: a mirror that stops answering costs seconds, not minutes of
retries.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import threading
import time
import urllib.request
from pathlib import Path

TRUTHY = {"1", "true", "yes", "on"}
DEFAULT_ENDPOINT = "https://huggingface.co"
# A small JSON answer that only the Hub, or a mirror that really serves it, gives.
PROBE_PATH = "/api/models/google-bert/bert-base-uncased"
STALL_SECONDS = 10.0  # a download with no new byte for this long is abandoned


def offline_requested() -> bool:
    """True when the user asked for offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    variables = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(v, "").strip().lower() in TRUTHY for v in variables)


def endpoint() -> str:
    """The Hub's address, without a trailing slash: HF_ENDPOINT lets a mirror stand in."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _answers_like_the_hub(url: str, timeout: float) -> bool:
    """True when GET `url` gives HTTP 200 and a JSON object; an error, another status or HTML is no."""
    headers = {"Accept": "application/json", "User-Agent": "pytorch-nlp-course"}
    try:
        # urlopen follows redirects, so a captive portal's sign-in page ends here as HTML: not JSON.
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status == 200 and isinstance(json.loads(answer.read(1_000_000)), dict)
    except (OSError, ValueError, http.client.HTTPException):  # HTTPError (4xx, 5xx) is an OSError
        return False


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hub answers its API within `timeout` seconds; decided once per session.

    The probe runs in a thread because a DNS lookup or a server that drips bytes can outlast any
    socket timeout; the caller waits `timeout` seconds at most.
    """
    if offline_requested():
        return False
    answer: list[bool] = []
    url = endpoint() + PROBE_PATH
    probe = threading.Thread(target=lambda: answer.append(_answers_like_the_hub(url, timeout)),
                             daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(answer and answer[0])


def _bytes_under(folder: Path) -> int:
    """Total size of the files under `folder` (0 when it does not exist yet)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:  # a temporary file renamed while we looked
                pass
    return total


def download(repo_id: str, repo_type: str = "model", allow_patterns: list[str] | None = None,
             ignore_patterns: list[str] | None = None, stall: float | None = None) -> Path:
    """The local folder of a Hub snapshot (`huggingface_hub.snapshot_download`), watched for stalls.

    The download runs in a thread while this one watches the repository's cache folder grow; when no
    byte has arrived for `stall` seconds (default STALL_SECONDS) it gives up with a TimeoutError. A slow
    download that keeps moving is never cut off. The abandoned thread is a daemon that writes only
    `.incomplete` files, which the Hub's cache renames into place if they are ever complete.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.file_download import repo_folder_name

    stall = STALL_SECONDS if stall is None else stall
    cache = Path(constants.HF_HUB_CACHE)
    folder = cache / repo_folder_name(repo_id=repo_id, repo_type=repo_type)
    outcome: list = []

    def fetch() -> None:
        try:
            outcome.append(snapshot_download(repo_id, repo_type=repo_type, allow_patterns=allow_patterns,
                                             ignore_patterns=ignore_patterns, cache_dir=cache,
                                             endpoint=endpoint(), etag_timeout=stall))
        except Exception as error:  # handed to the caller below
            outcome.append(error)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    size, moved = -1, time.monotonic()
    while worker.is_alive():
        worker.join(0.25)
        if (now := _bytes_under(folder)) != size:
            size, moved = now, time.monotonic()
        elif worker.is_alive() and time.monotonic() - moved > stall:
            raise TimeoutError(f"no data from {endpoint()} for {stall:.0f} s while downloading {repo_id}")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return Path(outcome[0])
