r"""The sentiment predictor as a web service: FastAPI, model loaded once, concurrent requests micro-batched.

    python -m helpers.serve --model models/imdb --port 8000
    curl -s localhost:8000/predict -H 'content-type: application/json' \
         -d '{"texts": ["A joy from start to end."]}'
    # {"predictions": [{"label": "positive", "probability": 0.97}]}

    GET  /          a page where a person types a review and sees the prediction
    GET  /health    {"status": "ok", ...}: the model is loaded and answering
    POST /predict   {"texts": [...]} -> {"predictions": [{"label", "probability"}, ...]}, in order
    POST /explain   {"text": "..."} -> {"words": [{"word", "effect"}, ...]}: which words moved the prediction

Bad requests get a 4xx answer that says what was wrong: 400 for a body that is not JSON, 413 for a body over
the size limit, 422 for JSON that is not {"texts": [non-empty strings]} within the limits on their number and
length, 503 when too many requests are already waiting. Requests that arrive together are answered by one
forward pass (`MicroBatcher`): one pass over many texts costs much less than many passes over one.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, StrictStr
from torch import nn

from helpers.sentiment import SentimentPredictor, unreadable


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how many may wait: the server's protection against its clients."""

    max_texts: int = 64  # texts per request
    max_chars: int = 20_000  # characters per text (IMDB's longest review has about 14,000)
    max_body_bytes: int = 1_000_000  # the request body, checked before it is parsed
    max_waiting: int = 256  # requests queued for the model; beyond that: 503, try again later
    body_seconds: int = 10  # to send the body once the headers are in; a slower client gets 408
    header_seconds: int = 10  # to send a request's headers; a slower client is disconnected

    def __post_init__(self):
        bad = [f"{k}={v}" for k, v in vars(self).items() if not (isinstance(v, int) and v > 0)]
        if bad:
            raise ValueError(f"Limits must be positive whole numbers, got {', '.join(bad)}.")


class PredictRequest(BaseModel):
    """The body of POST /predict: a list of texts (strings only: 42 is not silently turned into '42')."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr]


class ExplainRequest(BaseModel):
    """The body of POST /explain: one text."""

    model_config = ConfigDict(extra="forbid")
    text: StrictStr


def check_text(text: str, name: str, limits: Limits) -> None:
    """Refuse, with a 422 naming the field, a text the model cannot or need not read."""
    if not text.strip():
        raise HTTPException(422, f"{name} is empty or only whitespace: there is nothing to classify.")
    if (reason := unreadable(text)) is not None:  # checked here: in a batch it would fail others too
        raise HTTPException(422, f"{name} cannot be classified: {reason}.")
    if len(text) > limits.max_chars:
        raise HTTPException(422, f"{name} has {len(text):,} characters; at most {limits.max_chars:,} are "
                                 "accepted (the model reads only the first and last tokens anyway).")


# --- Micro-batching -------------------------------------------------------------------------------


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future


@dataclass
class MicroBatcher:
    """One model call for the requests that arrive together.

    A request's texts wait in a queue; a single worker takes the first request, then, for at most `max_wait`
    seconds, any others until `max_batch` texts are gathered, runs `predict` once on all of them in a
    thread (so the server keeps accepting requests meanwhile) and hands each request its share. With
    `enabled=False` every request is its own model call, one at a time: the same server without batching.
    """

    predict: Callable[[list[str]], list]
    max_batch: int = 32
    max_wait: float = 0.005
    enabled: bool = True
    max_waiting: int = 256
    calls: int = 0  # model calls so far
    texts: int = 0  # texts predicted so far
    _queue: asyncio.Queue | None = field(default=None, repr=False)
    _worker: asyncio.Task | None = field(default=None, repr=False)
    _pool: concurrent.futures.ThreadPoolExecutor | None = field(default=None, repr=False)

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    @property
    def waiting(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def submit(self, texts: list[str]) -> list:
        """The predictions for `texts`, computed with whatever other requests are waiting."""
        if self._queue is None:
            raise RuntimeError("The batcher is not running: await start() first.")
        if self._queue.qsize() >= self.max_waiting:
            raise HTTPException(503, f"{self._queue.qsize()} requests are already waiting for the model: "
                                     "try again in a moment.", headers={"Retry-After": "1"})
        job = _Job(texts, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(job)
        return await job.future

    async def _gather(self) -> list[_Job]:
        """The next request and, when batching, those that arrive within max_wait (up to max_batch texts)."""
        jobs = [await self._queue.get()]
        if not self.enabled:
            return jobs
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        size = len(jobs[0].texts)
        while size < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
                    break
            jobs.append(job)
            size += len(job.texts)
        return jobs

    async def _run(self) -> None:
        while True:
            jobs = await self._gather()
            await self._answer(jobs)

    async def _answer(self, jobs: list[_Job]) -> None:
        """One model call for these requests; if it fails, each request alone, so that a text that breaks the
        model fails only the request that sent it (the server goes on either way)."""
        texts = [t for job in jobs for t in job.texts]
        try:
            results = await asyncio.get_running_loop().run_in_executor(self._pool, self.predict, texts)
        except Exception as error:
            if len(jobs) > 1:
                for job in jobs:
                    await self._answer([job])
                return
            if not jobs[0].future.done():
                jobs[0].future.set_exception(error)
            return
        self.calls, self.texts = self.calls + 1, self.texts + len(texts)
        start = 0
        for job in jobs:
            if not job.future.done():  # a client that gave up has a cancelled future
                job.future.set_result(results[start:start + len(job.texts)])
            start += len(job.texts)


# --- The application ------------------------------------------------------------------------------


class BodyLimit:
    """ASGI middleware: refuse a body over `max_bytes` with 413, whether it declares its length or streams."""

    def __init__(self, app, max_bytes: int, seconds: float = 10.0):
        self.app, self.max_bytes, self.seconds = app, max_bytes, seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(int(declared))(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            try:  # a client that trickles its body (or stops) must not hold a connection forever
                message = await asyncio.wait_for(receive(), self.seconds)
            except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
                raise HTTPException(408, f"The request body did not arrive within {self.seconds:g} s: "
                                         "send it at once.") from None
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # a streamed (chunked) body that never declared its length
                raise HTTPException(413, self._message(seen, "at least "))
            return message

        await self.app(scope, limited_receive, send)

    def _message(self, size: int, prefix: str = "") -> str:
        return (f"The request body is {prefix}{size:,} bytes; "
                f"this server accepts at most {self.max_bytes:,}. "
                "Send fewer or shorter texts per request.")

    def _too_large(self, size: int) -> JSONResponse:
        return JSONResponse({"detail": self._message(size)}, status_code=413)


def _describe(error: dict) -> str:
    """One validation error of FastAPI's, as a sentence: where in the body, what was wrong."""
    where = ".".join(str(part) for part in error["loc"] if part != "body") or "the body"
    if error["type"] == "json_invalid":
        return f"The body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')}): " \
               'send {"texts": ["a review", ...]}.'
    if error["type"] == "missing":
        return f'{where} is missing: send {{"texts": ["a review", ...]}}.'
    if error["type"] == "extra_forbidden":
        return f'{where} is not a field of this API: send only {{"texts": [...]}}.'
    return f"{where}: {error['msg']}."


def create_app(predictor, limits: Limits = Limits(), batching: bool = True, max_batch: int = 32,
               max_wait_ms: float = 5.0, description: str = "sentiment predictor") -> FastAPI:
    """A FastAPI app that serves `predictor.predict` (a `SentimentPredictor` or anything with that method).

    The predictor is loaded by the caller, once; the app only uses it.
    """
    batcher = MicroBatcher(lambda texts: predictor.predict(texts, progress=False), max_batch=max_batch,
                           max_wait=max_wait_ms / 1000, enabled=batching, max_waiting=limits.max_waiting)

    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    # No /docs or /redoc: their pages load Swagger and ReDoc from a CDN, blank offline; /openapi.json stays.
    app = FastAPI(title="Sentiment service", lifespan=lifespan, docs_url=None, redoc_url=None,
                  summary="Label and probability for each review: the course's fine-tuned classifier.")
    app.state.batcher, app.state.limits = batcher, limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, seconds=limits.body_seconds)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = error.errors()
        status = 400 if any(e["type"] == "json_invalid" for e in errors) else 422
        return JSONResponse({"detail": " ".join(_describe(e) for e in errors[:3])}, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (resources.files("helpers") / "resources" / "serve" / "index.html").read_text(encoding="utf-8")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": description, "batching": batching, "max_batch": max_batch,
                "model_calls": batcher.calls, "texts_predicted": batcher.texts, "waiting": batcher.waiting,
                "limits": vars(limits)}

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict:
        texts = request.texts
        if not texts:
            raise HTTPException(422, 'texts is an empty list: send at least one review, {"texts": ["..."]}.')
        if len(texts) > limits.max_texts:
            raise HTTPException(422, f"texts has {len(texts)} reviews; send at most {limits.max_texts} per "
                                     "request (split the list).")
        for i, text in enumerate(texts):
            check_text(text, f"texts.{i}", limits)
        predictions = await batcher.submit(texts)
        return {"predictions": [{"label": p.label, "probability": round(p.probability, 4)}
                                for p in predictions]}

    if hasattr(predictor, "word_effects"):
        explaining = threading.Lock()  # one at a time: an explanation costs a text per word the model reads

        @app.post("/explain")
        def explain(request: ExplainRequest) -> dict:  # a plain def: FastAPI runs it in a worker thread
            check_text(request.text, "text", limits)
            if not explaining.acquire(blocking=False):
                raise HTTPException(503, "Another review is being explained: try again in a moment.",
                                    headers={"Retry-After": "1"})
            try:
                words = predictor.word_effects(request.text)
            finally:
                explaining.release()
            return {"words": [{"word": w, "effect": None if e is None else round(e, 4)} for w, e in words]}

    return app


# --- Running it: the command line, a server in a subprocess, a load test --------------------------


class OneTextAtATime(nn.Module):
    """Run `model` on each text of a batch alone, without its padding.

    Dynamic int8 measures each input's scale over the whole tensor it is given: in a batch, one user's answer
    would depend on what others sent at the same moment (and on their padding). Alone, it cannot.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        rows = []
        for ids, mask in zip(input_ids, attention_mask):  # ids: (T,)
            n = int(mask.sum())
            rows.append(self.model(ids[None, :n], mask[None, :n]))  # (1, classes)
        return torch.cat(rows)  # (B, classes)


def quantize_int8(predictor: SentimentPredictor) -> SentimentPredictor:
    """The predictor with its Linear layers quantized to int8 (chapter 09's `deploy.quantize_dynamic`), each
    text run alone so that its answer does not depend on its batch neighbours."""
    from helpers import deploy

    predictor.classifier.model = OneTextAtATime(deploy.quantize_dynamic(predictor.classifier.model))
    return predictor


def headers_in_time(seconds: float) -> type:
    """uvicorn's HTTP/1.1 protocol with a deadline for every request's headers.

    uvicorn closes idle keep-alive connections but waits for headers forever, so a client that connects and
    sends nothing, or trickles its headers a byte at a time, would hold a connection for as long as it likes.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadersInTime(H11Protocol):
        _deadline = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            if self.cycle is None or self.cycle.response_complete:  # no request's headers arrived in time
                self.timeout_keep_alive_handler()  # uvicorn's own way to close a connection it is done with

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:  # the headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on this connection gets the same deadline

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadersInTime


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m helpers.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        help="a folder saved by SentimentPredictor.save (chapter 08)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1: this machine only (the default)")
    parser.add_argument("--threads", type=int,
                        help="PyTorch threads for the model (default: PyTorch's choice)")
    parser.add_argument("--int8", action="store_true", help="quantize the Linear layers to int8 at start-up")
    parser.add_argument("--no-batching", dest="batching", action="store_false",
                        help="one model call per request (to measure what micro-batching buys)")
    parser.add_argument("--max-batch", type=int, default=32, help="texts per model call when batching")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a request waits for company")
    defaults = Limits()
    parser.add_argument("--max-texts", type=int, default=defaults.max_texts, help="texts per request")
    parser.add_argument("--max-chars", type=int, default=defaults.max_chars, help="characters per text")
    parser.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes)
    parser.add_argument("--header-seconds", type=int, default=defaults.header_seconds,
                        help="seconds a client has to send a request's headers")
    args = parser.parse_args(argv)
    for name in ("port", "threads", "max_batch", "max_texts", "max_chars", "max_body_bytes",
                 "header_seconds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    if args.max_wait_ms < 0:
        parser.error(f"--max-wait-ms must be 0 or more, got {args.max_wait_ms}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    import torch
    import uvicorn

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        predictor = SentimentPredictor.load(args.model)  # once, before the first request
    except FileNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    if args.int8:
        predictor = quantize_int8(predictor)
    threads = torch.get_num_threads()
    name = (f"{Path(args.model).name} ({'int8' if args.int8 else 'fp32'}, "
            f"{threads} thread{'s' * (threads > 1)})")
    limits = Limits(args.max_texts, args.max_chars, args.max_body_bytes, header_seconds=args.header_seconds)
    app = create_app(predictor, limits, args.batching, args.max_batch, args.max_wait_ms, description=name)
    print(f"Serving {name} on http://{args.host}:{args.port} (batching {'on' if args.batching else 'off'})",
          flush=True)
    # Idle keep-alive connections close after 5 s; headers and body each have their deadline (Limits).
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=5,
                http=headers_in_time(limits.header_seconds))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Server:
    """`python -m helpers.serve` in a subprocess on 127.0.0.1, ready when /health answers; stopped on exit.

        with serve.Server(model_dir) as server:
            httpx.post(server.url + "/predict", json={"texts": ["Great."]})
    """

    def __init__(self, model: str | os.PathLike, *options: str, port: int | None = None,
                 start_timeout: float = 300.0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "helpers.serve", "--model", str(model),
                        "--port", str(self.port), *options]
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.start_seconds: float | None = None

    def __enter__(self) -> Server:
        import httpx

        start = time.perf_counter()
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        while time.perf_counter() - start < self.start_timeout:
            if self.process.poll() is not None:
                output = self.process.stdout.read()
                raise RuntimeError(f"The server exited with code {self.process.returncode}:\n"
                                   f"{output[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    self.start_seconds = time.perf_counter() - start
                    return self
            except httpx.TransportError:
                time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"The server did not answer /health within {self.start_timeout:.0f} s.")

    def stop(self) -> None:
        """Ask the server to shut down (SIGINT, as Ctrl-C does), then kill it if it does not within 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


def load_test(url: str, texts: Sequence[str], concurrency: int, per_request: int = 1,
              timeout: float = 120.0) -> dict:
    """POST every text to url/predict, `per_request` at a time, from `concurrency` clients at once.

    Returns requests and texts per second and the latency percentiles the clients saw.
    """
    import httpx

    if concurrency < 1 or per_request < 1:
        raise ValueError("concurrency and per_request must be positive, "
                         f"got {concurrency} and {per_request}.")
    bodies = [{"texts": list(texts[i:i + per_request])} for i in range(0, len(texts), per_request)]
    latencies: list[float] = []
    lock = threading.Lock()
    with httpx.Client(base_url=url, timeout=timeout,
                      limits=httpx.Limits(max_connections=concurrency)) as client:

        def send(body: dict) -> None:
            start = time.perf_counter()
            response = client.post("/predict", json=body)
            response.raise_for_status()
            with lock:
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(send, bodies))
        seconds = time.perf_counter() - start
    return {"concurrency": concurrency, "requests": len(bodies), "texts": len(texts), "seconds": seconds,
            "requests_per_s": len(bodies) / seconds, "texts_per_s": len(texts) / seconds,
            "latency_p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "latency_p95_ms": 1000 * float(np.percentile(latencies, 95))}


if __name__ == "__main__":
    main()
