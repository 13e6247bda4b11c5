"""Shared fixtures: every test runs offline (a fresh Hub probe, no IMDB_DIR, no way off this machine)."""

import http.server
import ipaddress
import socket
import threading
import urllib.request

import huggingface_hub.constants
import pytest
import torch

from helpers import hub

REAL_PROBE = hub._answers_like_the_hub  # captured before the autouse fixture stubs it
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _is_loopback(host) -> bool:
    if host is None or host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may leave this machine: a lookup or connection to anything but 127.0.0.1 fails the test.

    The Hub probe answers "unreachable" at once; tests of the probe put the real one back and point
    HF_ENDPOINT at a local server.
    """
    for variable in ("IMDB_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    hub.hub_reachable.cache_clear()
    monkeypatch.setattr(hub, "_answers_like_the_hub", lambda url, timeout: False)

    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def local_getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            raise AssertionError(f"a test looked up {host!r}: tests never reach the network")
        return real_getaddrinfo(host, *args, **kwargs)

    def local_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise AssertionError(f"a test connected to {address!r}: tests never reach the network")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", local_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", local_connect)


@pytest.fixture
def no_network(monkeypatch):
    """Make any connection or DNS lookup raise, even to this machine, to prove a path never tries one."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers as the server's `mode` says: a status for everything, an HTML portal, silence, or a Hub that
    answers the probe and then stalls."""

    def do_GET(self):
        mode, stop = self.server.mode, self.server.stop
        if mode == "stalls" and self.path == hub.PROBE_PATH:
            self._answer(200, "application/json", b'{"id": "google-bert/bert-base-uncased"}')
        elif mode in ("silent", "stalls"):
            stop.wait(120)  # the connection stays open and no byte comes back
        elif mode == "portal":
            self._answer(200, "text/html", b"<html><body>Please sign in to this network.</body></html>")
        else:
            self._answer(mode, "text/plain", b"no")

    do_HEAD = do_POST = do_GET

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):  # quiet: pytest shows what the test asserts
        pass


@pytest.fixture
def hub_server(monkeypatch, tmp_path):
    """Start a fake Hub on 127.0.0.1 in the given mode, point HF_ENDPOINT at it, and use the real probe and
    real downloads (huggingface_hub read HF_HUB_OFFLINE=1 of `make test` at import: it is switched off here).

    Modes: "silent" (accepts, never answers), "stalls" (answers the probe, then never answers), "portal"
    (HTML for everything, as a captive portal), or an HTTP status such as 403 or 503 (for everything).
    The server's `probes` lists (url, timeout) of every urlopen the probe made.
    """
    servers, probes, real_urlopen = [], [], urllib.request.urlopen

    def urlopen(request, *args, **kwargs):
        probes.append((request.full_url, kwargs.get("timeout")))
        return real_urlopen(request, *args, **kwargs)

    def start(mode):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.mode, server.stop, server.probes = mode, threading.Event(), probes
        # a short poll: shutdown() waits for the loop to look, 0.5 s by default, in every test that uses this
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setattr(hub, "_answers_like_the_hub", REAL_PROBE)
        monkeypatch.setattr(urllib.request, "urlopen", urlopen)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        hub.hub_reachable.cache_clear()
        return server

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


def pytest_collection_modifyitems(config, items):
    """Tests marked `cuda` skip on a machine without a CUDA GPU (tools/gpu_check.py runs them on one)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (run tools/gpu_check.py on one)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
