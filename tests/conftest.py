"""Shared fixtures: every test runs as if offline, with a fresh Hub probe and no IMDB_DIR."""

import socket

import pytest

from helpers import hub


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may touch the network: a connection attempt fails the test loudly."""
    monkeypatch.delenv("IMDB_DIR", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    hub.hub_reachable.cache_clear()
    monkeypatch.setattr(hub, "_can_connect", lambda host, port, timeout: False)


@pytest.fixture
def no_network(monkeypatch):
    """Make any socket connection or DNS lookup raise, to prove code paths never try one."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
