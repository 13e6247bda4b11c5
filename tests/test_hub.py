import socket
import time

from helpers import hub

REAL_CAN_CONNECT = hub._can_connect  # captured before the autouse fixture stubs it


def test_offline_variable_short_circuits_without_a_probe(monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.hub_reachable() is False


def test_no_network_means_unreachable(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", fail)
    monkeypatch.setattr(hub, "_can_connect", REAL_CAN_CONNECT)
    start = time.perf_counter()
    assert hub.hub_reachable() is False
    assert time.perf_counter() - start < 5


def test_a_hanging_lookup_is_abandoned_after_the_timeout(monkeypatch):
    monkeypatch.setattr(hub, "_can_connect", lambda host, port, timeout: time.sleep(30) or True)
    start = time.perf_counter()
    assert hub.hub_reachable(timeout=0.3) is False
    assert time.perf_counter() - start < 5


def test_reachable_when_the_endpoint_answers(monkeypatch):
    monkeypatch.setattr(hub, "_can_connect", lambda host, port, timeout: True)
    assert hub.hub_reachable() is True


def test_result_is_cached(monkeypatch):
    calls = []
    monkeypatch.setattr(hub, "_can_connect", lambda host, port, timeout: calls.append(host) or True)
    hub.hub_reachable()
    hub.hub_reachable()
    assert len(calls) == 1


def test_hf_endpoint_selects_the_host(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example:8080")
    assert hub.hub_host() == ("mirror.example", 8080)
    monkeypatch.delenv("HF_ENDPOINT")
    assert hub.hub_host() == ("huggingface.co", 443)
