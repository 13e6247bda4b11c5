"""The service as a client meets it: a real server on 127.0.0.1, real HTTP, a real browser for the page."""

import asyncio
import json
import concurrent.futures
import shutil
import subprocess
import urllib.parse

import httpx
import numpy as np
import pytest
from tiny import tiny_finetuned

from helpers import serve
from helpers.sentiment import Prediction, SentimentPredictor

REVIEWS = ["A joy from start to finish.", "Two hours I will never get back.", "Not bad at all."]
LIMITS = ("--max-texts", "4", "--max-chars", "300", "--max-body-bytes", "4000")


@pytest.fixture(scope="module")
def predictor_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve") / "predictor"
    SentimentPredictor(tiny_finetuned(max_len=32)).save(folder)
    return folder


@pytest.fixture(scope="module")
def server(predictor_dir):
    # A long wait for company, so that requests sent together are answered by one model call.
    with serve.Server(predictor_dir, *LIMITS, "--threads", "1", "--max-wait-ms", "300") as running:
        yield running


@pytest.mark.slow
def test_health_says_the_model_is_loaded(server):
    body = httpx.get(server.url + "/health").json()
    assert body["status"] == "ok" and body["batching"] is True and body["limits"]["max_texts"] == 4


@pytest.mark.slow
def test_predictions_are_the_predictors_in_order(server, predictor_dir):
    response = httpx.post(server.url + "/predict", json={"texts": REVIEWS})
    assert response.status_code == 200
    expected = SentimentPredictor.load(predictor_dir).predict(REVIEWS)
    got = response.json()["predictions"]
    assert [p["label"] for p in got] == [p.label for p in expected]
    assert [p["probability"] for p in got] == pytest.approx([p.probability for p in expected], abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("body, status, message", [
    ('{"texts": ["unclosed"', 400, "not valid JSON"),
    ('{"texts": []}', 422, "empty list"),
    ('{"texts": ["fine", "   "]}', 422, "texts.1 is empty"),
    ('{"texts": ["fine", 42]}', 422, "texts.1"),
    ('{"texts": "one review"}', 422, "texts"),
    ('{"text": ["wrong field"]}', 422, "texts is missing"),
    ('{"texts": ["a", "b", "c", "d", "e"]}', 422, "at most 4"),
    ('{"texts": ["' + "long " * 100 + '"]}', 422, "at most 300"),
    ('{"texts": ["' + "x" * 5000 + '"]}', 413, "at most 4,000"),
])
def test_bad_requests_get_a_4xx_that_says_what_was_wrong(server, body, status, message):
    response = httpx.post(server.url + "/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


@pytest.mark.slow
def test_requests_sent_together_share_model_calls(server):
    before = httpx.get(server.url + "/health").json()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda t: httpx.post(server.url + "/predict", json={"texts": [t]},
                                                     timeout=60),
                                REVIEWS * 3))
    assert all(a.status_code == 200 for a in answers)
    after = httpx.get(server.url + "/health").json()
    assert after["texts_predicted"] - before["texts_predicted"] == 9
    assert after["model_calls"] - before["model_calls"] < 9


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (apt-get install chromium)")
def test_the_page_shows_a_prediction_in_a_browser(server, predictor_dir):
    review = "A joy from start to finish."
    url = f"{server.url}/?text={urllib.parse.quote(review)}"  # the page predicts a review passed in its link
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=20000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    expected = SentimentPredictor.load(predictor_dir).predict([review])[0]
    assert f'id="label">{expected.label} (' in dom and "% sure)" in dom
    assert ('id="unsure"' in dom) == (expected.probability < 0.6), "a near coin flip is called unsure"
    assert 'maxlength="300"' in dom, "the text box takes the server's own limit (--max-chars 300)"
    assert "disabled" not in dom.split('id="submit"')[1].split(">")[0], "the button is back once answered"
    words = dom.split('id="words"')[1]
    assert all(f">{w}</span>" in words for w in review.split()), "each word is shown, shaded by its effect"
    assert "background: rgba(" in words


@pytest.mark.slow
def test_explain_gives_each_words_effect_as_the_predictor_does(server, predictor_dir):
    review = "Not bad at all, I <br />enjoyed it."
    response = httpx.post(server.url + "/explain", json={"text": review}, timeout=60)
    assert response.status_code == 200, response.text
    expected = SentimentPredictor.load(predictor_dir).word_effects(review)
    got = response.json()["words"]
    assert [w["word"] for w in got] == [w for w, _ in expected]
    assert [w["effect"] for w in got] == pytest.approx([e for _, e in expected], abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("body, message", [
    ({"text": "  "}, "text is empty"),
    ({"text": "x" * 400}, "at most 300"),
    ({"text": "<br />"}, "nothing is left to read"),
    ({"texts": ["the wrong field"]}, "text"),
])
def test_explain_refuses_what_predict_refuses(server, body, message):
    response = httpx.post(server.url + "/explain", json=body)
    assert response.status_code == 422 and message in response.json()["detail"], response.text


def test_the_micro_batcher_answers_each_request_with_its_own_share():
    calls = []

    def predict(texts):
        calls.append(list(texts))
        return [t.upper() for t in texts]

    async def scenario():
        batcher = serve.MicroBatcher(predict, max_batch=8, max_wait=0.05)
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(t) for t in (["a"], ["b", "c"], ["d"])))
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [["A"], ["B", "C"], ["D"]]
    assert calls == [["a", "b", "c", "d"]]


def test_without_batching_each_request_is_its_own_call():
    calls = []

    async def scenario():
        batcher = serve.MicroBatcher(lambda texts: calls.append(texts) or texts, enabled=False)
        await batcher.start()
        try:
            await asyncio.gather(*(batcher.submit([t]) for t in "abc"))
        finally:
            await batcher.stop()

    asyncio.run(scenario())
    assert calls == [["a"], ["b"], ["c"]]


def test_bad_command_line_values_are_refused(capsys):
    with pytest.raises(SystemExit):
        serve.parse_args(["--model", "m", "--port", "0"])
    assert "--port must be a positive number" in capsys.readouterr().err


@pytest.mark.slow
def test_a_missing_model_folder_stops_the_server_with_a_clear_message(tmp_path):
    with pytest.raises(RuntimeError, match="No saved predictor"):
        with serve.Server(tmp_path / "missing", start_timeout=120):
            pass


def test_a_load_test_needs_clients():
    with pytest.raises(ValueError, match="concurrency and per_request must be positive"):
        serve.load_test("http://127.0.0.1:9", ["a"], concurrency=0)


def test_a_request_that_breaks_the_model_fails_alone():
    calls = []

    def predict(texts):
        calls.append(list(texts))
        if "bad" in texts:
            raise ValueError("the tokenizer refused a text")
        return [t.upper() for t in texts]

    async def scenario():
        batcher = serve.MicroBatcher(predict, max_batch=8, max_wait=0.05)
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(t) for t in (["a"], ["bad"], ["b", "c"])),
                                        return_exceptions=True)
        finally:
            await batcher.stop()

    good, bad, more = asyncio.run(scenario())
    assert good == ["A"] and more == ["B", "C"] and isinstance(bad, ValueError)
    assert calls[0] == ["a", "bad", "b", "c"], "one model call first, as long as it succeeds"


class EchoPredictor:
    def predict(self, texts, progress=False):
        return [Prediction("positive", 0.9) for _ in texts]


@pytest.mark.parametrize("text, message", [
    ("<br /><br />", "texts.1 cannot be classified: nothing is left to read"),
    ("\u200b\u200b\x07", "texts.1 cannot be classified: nothing is left to read"),
    ("\ud800 x", "texts.1 cannot be classified: it is not valid Unicode"),
])
def test_texts_the_model_cannot_read_get_a_422_before_the_batcher(text, message):
    from fastapi.testclient import TestClient

    with TestClient(serve.create_app(EchoPredictor())) as client:
        # A lone surrogate cannot travel as UTF-8 JSON; escaped, as a browser's JSON.stringify sends it.
        body = '{"texts": ["fine", %s]}' % json.dumps(text)
        response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and message in response.json()["detail"]


def test_no_page_that_needs_a_cdn_and_the_api_description_stays():
    from fastapi.testclient import TestClient

    with TestClient(serve.create_app(EchoPredictor())) as client:
        assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
        assert client.get("/openapi.json").json()["info"]["title"] == "Sentiment service"
        assert "in English" in client.get("/").text


@pytest.mark.slow
def test_int8_answers_do_not_depend_on_batch_neighbours(predictor_dir):
    predictor = serve.quantize_int8(SentimentPredictor.load(predictor_dir))
    alone = predictor.predict_proba([REVIEWS[2]], progress=False)
    beside = predictor.predict_proba([REVIEWS[0], REVIEWS[2], "x " * 25], progress=False)
    np.testing.assert_array_equal(beside[1], alone[0])  # batched dynamic int8 moved it by 0.0017


def test_a_body_that_never_arrives_gets_a_408_not_a_held_connection():
    app = serve.create_app(EchoPredictor(), limits=serve.Limits(body_seconds=1))
    sent = []

    async def never():
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    async def scenario():
        scope = {"type": "http", "method": "POST", "path": "/predict", "raw_path": b"/predict",
                 "query_string": b"", "headers": [(b"content-type", b"application/json")],
                 "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80), "client": None,
                 "root_path": "", "app": app}
        await asyncio.wait_for(app(scope, never, send), 30)

    asyncio.run(scenario())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 408 and b"did not arrive within 1 s" in body


@pytest.mark.slow
def test_a_client_that_never_finishes_its_headers_is_disconnected(predictor_dir):
    import socket

    with serve.Server(predictor_dir, "--threads", "1", "--header-seconds", "1") as running:
        host, port = running.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # headers never finished
            # Closed by the server (b""), not left open until the socket's own 10 s timeout raises.
            assert slow.recv(1024) == b""
        assert httpx.get(running.url + "/health").status_code == 200, "a normal client is still served"
        with httpx.Client() as client:  # a kept-alive connection answers several requests in time
            assert [client.get(running.url + "/health").status_code for _ in range(3)] == [200] * 3
