import threading
import time
import types
from pathlib import Path

import huggingface_hub
import pytest

from helpers import hub


def test_offline_variable_short_circuits_without_a_probe(monkeypatch, no_network):
    probes = []
    monkeypatch.setattr(hub, "_answers_like_the_hub", lambda url, timeout: probes.append(url) or True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.hub_reachable() is False and probes == []


def test_the_tests_cannot_reach_the_network():
    import socket

    with pytest.raises(AssertionError, match="never reach the network"):
        socket.create_connection(("huggingface.co", 443), timeout=1)
    with pytest.raises(AssertionError, match="never reach the network"):
        socket.socket().connect(("192.0.2.1", 80))


@pytest.mark.parametrize("mode", ["silent", 403, 404, 500, 503, "portal"])
def test_only_a_json_answer_from_the_api_means_reachable(hub_server, mode):
    server = hub_server(mode)
    assert hub.hub_reachable() is False
    assert server.probes == [(hub.endpoint() + hub.PROBE_PATH, 3.0)], "one request, its socket bounded by 3 s"


def test_a_server_that_answers_the_api_is_reachable(hub_server):
    server = hub_server("stalls")  # answers the probe path with JSON
    assert hub.hub_reachable() is True
    assert server.probes == [(hub.endpoint() + hub.PROBE_PATH, 3.0)]


def test_a_hanging_lookup_is_abandoned_after_the_timeout(monkeypatch):
    answered, timeouts = threading.Event(), []  # the probe says yes, but only once the test lets it
    monkeypatch.setattr(hub, "_answers_like_the_hub",
                        lambda url, timeout: timeouts.append(timeout) or answered.wait(10) or True)
    assert hub.hub_reachable(timeout=0.3) is False, "the caller stopped waiting before the probe answered"
    assert timeouts == [0.3]
    answered.set()


def test_the_probe_asks_the_endpoint_in_hf_endpoint(monkeypatch):
    asked = []
    monkeypatch.setattr(hub, "_answers_like_the_hub", lambda url, timeout: asked.append(url) or True)
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example:8080/")
    assert hub.hub_reachable() is True
    assert asked == ["http://mirror.example:8080" + hub.PROBE_PATH]
    monkeypatch.delenv("HF_ENDPOINT")
    assert hub.endpoint() == "https://huggingface.co"


def test_result_is_cached(monkeypatch):
    calls = []
    monkeypatch.setattr(hub, "_answers_like_the_hub", lambda url, timeout: calls.append(url) or True)
    hub.hub_reachable()
    hub.hub_reachable()
    assert len(calls) == 1


def _fake_snapshot(monkeypatch, write):
    """Replace snapshot_download with `write(folder)`, which writes into the repository's cache folder."""

    def fake(repo_id, *, repo_type, cache_dir, **kwargs):
        folder = Path(cache_dir) / huggingface_hub.file_download.repo_folder_name(repo_id=repo_id,
                                                                                    repo_type=repo_type)
        folder.mkdir(parents=True, exist_ok=True)
        write(folder)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)


@pytest.mark.slow
def test_a_download_that_keeps_moving_is_never_cut_off(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))

    def slow_but_steady(folder):
        with open(folder / "model.safetensors.incomplete", "wb") as f:
            for _ in range(12):  # 2.4 s in all, a byte every 0.2 s: far longer than the 0.8-s stall limit
                time.sleep(0.2)
                f.write(b"x")
                f.flush()

    _fake_snapshot(monkeypatch, slow_but_steady)
    folder = hub.download("some/model", stall=0.8)
    assert (folder / "model.safetensors.incomplete").stat().st_size == 12


def test_a_download_that_stalls_is_abandoned_once_the_clock_passes_stall_seconds(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    release = threading.Event()
    _fake_snapshot(monkeypatch, lambda folder: release.wait(10))  # no byte ever arrives
    ticks, read = [0.0, 0.0, 5.0, 9.5, 10.5], []  # a clock this test controls; it stays at 10.5 after

    def clock() -> float:
        read.append(ticks[min(len(read), len(ticks) - 1)])
        return read[-1]

    monkeypatch.setattr(hub, "time", types.SimpleNamespace(monotonic=clock))
    with pytest.raises(TimeoutError, match="no data .* for 10 s while downloading some/model"):
        hub.download("some/model")  # STALL_SECONDS = 10
    assert read == ticks, "abandoned at the first reading past STALL_SECONDS since the last byte, not before"
    release.set()


def test_a_download_error_reaches_the_caller(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))

    def refuse(folder):
        raise PermissionError("403 Forbidden")

    _fake_snapshot(monkeypatch, refuse)
    with pytest.raises(PermissionError, match="403"):
        hub.download("some/model")


@pytest.mark.parametrize(("mode", "ending"), [("stalls", "no data from .* for 1 s"), (503, "503 Service")],
                         ids=["stalls", "503"])
def test_a_real_snapshot_download_from_a_failing_mirror_ends(hub_server, mode, ending):
    """A stalled mirror is cut off by the stall detector; an error answer comes back as that error."""
    hub_server(mode)
    with pytest.raises(Exception, match=ending):
        hub.download("google-bert/bert-base-uncased", allow_patterns=["*.json"], stall=1.0)

