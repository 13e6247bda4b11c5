"""Chapter 09: the fine-tuned classifier made fast on a CPU, every variant checked against the original.

Each variant is a module from (input_ids, attention_mask) to logits, so `SentimentPredictor` runs any of them:

    eager fp32        the PyTorch model as trained (the reference)
    torch int8        `quantize_dynamic`: Linear weights stored as int8, activations quantized on the fly
    torch compile     `compile_model`: `torch.compile` (TorchInductor) fuses operations into generated code
    onnx fp32         `export_onnx`, then `OnnxModel` runs the graph in onnxruntime
    onnx int8         `quantize_onnx`: onnxruntime's dynamic quantization of the exported graph
    onnx fused fp32   `export_onnx_legacy`, then `fuse_attention`: onnxruntime's transformer optimizer
                      turns each self-attention block (and LayerNorm, GELU, the embeddings) into one
                      fused operator
    onnx fused int8   `quantize_onnx` of the fused graph

`compare` measures them all in one run on the same reviews: size on disk, time to build, latency at batch 1,
throughput in batches, accuracy, and agreement with the reference.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from helpers import config, ensemble, storage
from helpers.batching import pad_batch
from helpers.intervals import paired_difference, wilson
from helpers.tokenization import clean_text

INPUTS = ("input_ids", "attention_mask")


# --- Quantization in PyTorch ----------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_quantization() -> Iterator[None]:
    # torch.ao.quantization announces its move to torchao on every call; the lesson says so in prose, and the
    # quantized model is unchanged by the warning. Silenced by its exact messages, nothing else.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated",
                                category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="torch.quantize_per_tensor, torch.quantize_per_channel")
        yield


def quantize_dynamic(model: nn.Module, per_channel: bool = False) -> nn.Module:
    """A copy of `model` whose Linear layers hold int8 weights and quantize inputs on the fly (CPU only).

    With `per_channel`, each output row of a weight gets its own scale instead of one for the whole matrix,
    so a row of small weights is not rounded to a few levels because another row holds a large one.
    """
    q = torch.ao.quantization
    spec = {nn.Linear: q.per_channel_dynamic_qconfig} if per_channel else {nn.Linear}
    with _quiet_quantization():
        return q.quantize_dynamic(copy.deepcopy(model).cpu().eval(), spec, dtype=torch.qint8)


def compile_model(model: nn.Module, backend: str = "inductor") -> tuple[nn.Module, float]:
    """(`torch.compile`d model, seconds spent compiling: its first calls, on each kind of input it will meet).

    Compiling happens at the first call of each kind. `dynamic=True` makes batch size and length symbols, but
    a batch of one is always its own kind, so a batch of 1 and one of 2 are passed. Tensors made inside
    inference mode, views and positional arguments would be kinds again: `compare` passes none of them.
    """
    compiled = torch.compile(model.cpu().eval(), backend=backend, dynamic=True)
    examples = [example_inputs(1), example_inputs(2)]  # (B, T) each, the last row padded
    start = time.perf_counter()
    with torch.inference_mode():  # the mode the model is timed in: another mode would compile it again
        for ids, mask in examples:
            compiled(input_ids=ids, attention_mask=mask)
    return compiled, time.perf_counter() - start


# --- ONNX export and onnxruntime ------------------------------------------------------------------


def example_inputs(batch: int = 2, tokens: int = 16, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) to trace an export with: the last row padded, so the mask is exercised.

    >>> ids, mask = example_inputs(2, 4)
    >>> mask.tolist()
    [[1, 1, 1, 1], [1, 1, 0, 0]]
    """
    # (B, T) ordinary word ids; a tensor of its own, not a view (torch.compile would treat a view as
    # another kind)
    ids = torch.arange(1000, 1000 + batch * tokens).reshape(batch, tokens).clone()
    mask = torch.ones_like(ids)
    mask[-1, tokens // 2:] = 0
    ids[-1, tokens // 2:] = pad_id
    return ids, mask


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    # The dynamo exporter logs a warning per torchvision operator it cannot register (torchvision is not a
    # dependency of the course), torch.export warns about an internal pytree API; none touches our graph.
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
            # Both inputs share the batch and token dimensions, so each name is met twice;
            # the second is dropped.
            warnings.filterwarnings("ignore", message=r"# The axis name: \w+ will not be used")
            # The legacy exporter announces that it is legacy, and warns of Python values it records as
            # constants (transformers' mask code checks the mask's length) and of advanced indexing with
            # negative indices (none here); the tests check its graph on other batch sizes and lengths, with
            # padding.
            warnings.filterwarnings("ignore",
                                    message="You are using the legacy TorchScript-based ONNX export")
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index operator of advanced indexing")
            warnings.filterwarnings("ignore",
                                    message="The feature will be removed. Please remove usage of this")
            yield
    finally:
        registration.setLevel(level)


def export_onnx(model: nn.Module, path: str | os.PathLike, max_tokens: int = 512) -> Path:
    """Export `model` (input_ids, attention_mask -> logits) to ONNX at `path`, any batch size and length.

    The dynamo exporter writes the graph to `path` and the weights beside it (`path` + ".data"): ship both.
    Written to a temporary folder first and moved into place, so a failed export leaves nothing behind.
    """
    path = Path(path)
    batch, tokens = (torch.export.Dim("batch", min=1, max=4096),
                     torch.export.Dim("tokens", min=2, max=max_tokens))
    with storage.staged_files(path) as staged, _quiet_export():
        torch.onnx.export(copy.deepcopy(model).cpu().eval(), example_inputs(), staged, dynamo=True,
                          input_names=list(INPUTS), output_names=["logits"],
                          dynamic_shapes=({0: batch, 1: tokens}, {0: batch, 1: tokens}), verbose=False)
    return path


def export_onnx_legacy(model: nn.Module, path: str | os.PathLike) -> Path:
    """Export a `SentimentClassifier` with eager attention by the legacy (TorchScript) exporter, one file.

    onnxruntime's transformer optimizer recognizes self-attention by the pattern of its operations: the
    explicit softmax(QK^T / sqrt(d) + mask) V that eager attention writes, as the legacy exporter records it.
    PyTorch's fused SDPA, or the dynamo exporter's graph, gives it nothing it recognizes.
    """
    path = Path(path)
    eager = copy.deepcopy(model).cpu().eval()
    eager.encoder.set_attn_implementation("eager")
    dims = {0: "batch", 1: "tokens"}
    with storage.staged_files(path) as staged, _quiet_export():
        torch.onnx.export(eager, example_inputs(), staged, dynamo=False, input_names=list(INPUTS),
                          output_names=["logits"], opset_version=17,
                          dynamic_axes={"input_ids": dims, "attention_mask": dims, "logits": {0: "batch"}})
    return path


def operator_counts(path: str | os.PathLike) -> Counter:
    """How many nodes of each operator type an ONNX graph holds (its weights are not loaded)."""
    import onnx

    return Counter(node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node)


ATTENTION_OPS = ("Attention", "MultiHeadAttention", "QAttention")


def fuse_attention(source: str | os.PathLike, target: str | os.PathLike, num_heads: int,
                   hidden_size: int) -> Path:
    """onnxruntime's transformer optimizer on a BERT graph: attention, LayerNorm and GELU fused, at `target`.

    Raises if no attention was fused, which is what an export by `export_onnx` (dynamo, SDPA) gets.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size)
    fused = optimized.get_fused_operator_statistics()
    if not sum(fused.get(op, 0) for op in ATTENTION_OPS):
        raise ValueError(f"onnxruntime fused no attention in {source}: export the model with "
                         "deploy.export_onnx_legacy (eager attention, the legacy exporter).")
    target = Path(target)
    with storage.staged_files(target) as staged:
        optimized.save_model_to_file(str(staged))
    return target


def onnx_files(path: str | os.PathLike) -> list[Path]:
    """The files an ONNX model is made of: the graph and, when the weights are outside it, their file."""
    path = Path(path)
    return [p for p in (path, path.with_name(path.name + ".data")) if p.is_file()]


def size_on_disk(model: nn.Module | str | os.PathLike) -> int:
    """Bytes a model takes on disk: an ONNX file with its weights, or a PyTorch module's saved state_dict."""
    if not isinstance(model, nn.Module):
        return sum(p.stat().st_size for p in onnx_files(model))
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(model.state_dict(), Path(tmp) / "model.pt")
        return (Path(tmp) / "model.pt").stat().st_size


def quantize_onnx(source: str | os.PathLike, target: str | os.PathLike, per_channel: bool = False) -> Path:
    """onnxruntime's dynamic quantization of an ONNX model: int8 MatMul weights, activations on the fly
    (`per_channel`: a scale per output column of each weight, as in `quantize_dynamic`)."""
    import onnx
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    target = Path(target)
    # onnxruntime logs a hint to pre-process (shape inference) first; the graph is already shape-annotated by
    # the exporter, so the hint does not apply here.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        # A fused graph's operators (Attention, SkipLayerNormalization) are onnxruntime's own, so ONNX's shape
        # inference cannot type their outputs; the quantizer then needs to be told they are float.
        with storage.staged_files(target) as staged:
            ort_quantize_dynamic(Path(source), staged, weight_type=QuantType.QInt8, per_channel=per_channel,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)
    return target


class OnnxModel(nn.Module):
    """An ONNX classifier in onnxruntime behind the PyTorch interface: (input_ids, attention_mask) -> logits.

    `threads` sets onnxruntime's intra-op threads (None: its default, one per core); graph optimizations
    (constant folding, operator fusion) are on, as they are by default.
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        super().__init__()
        import onnxruntime as ort

        if not Path(path).is_file():
            raise FileNotFoundError(f"No ONNX model at {path}: export one with "
                                    "deploy.export_onnx(model, path).")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        feed = {"input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()}
        return torch.from_numpy(self.session.run(None, feed)[0])  # (B, classes)


# --- Measuring every variant on the same reviews --------------------------------------------------


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """PyTorch's intra-op threads set to n for the block (None: unchanged)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def latencies_ms(models: Sequence[nn.Module], inputs: Sequence[dict], warmup: int = 2) -> np.ndarray:
    """(models, inputs) milliseconds of one forward pass, after `warmup` untimed passes each.

    The models take turns on each input, so a burst of load from other jobs on the machine slows them all
    alike instead of whichever happened to be running.
    """
    times = np.zeros((len(models), len(inputs)))
    with torch.inference_mode():
        for x in inputs[:warmup]:
            for model in models:
                model(**x)
        for j, x in enumerate(inputs):
            for i, model in enumerate(models):
                start = time.perf_counter()
                model(**x)
                times[i, j] = 1000 * (time.perf_counter() - start)
    return times


@dataclasses.dataclass
class Variant:
    """One way to run the classifier: its module, what its disk size is measured from, seconds to build it."""

    name: str
    model: nn.Module
    stored: nn.Module | Path  # a module (its state_dict is saved to measure it) or an ONNX file
    build_seconds: float = 0.0  # quantizing, exporting, fusing or compiling, from the variant it starts at


def timed(build: Callable[[], object]) -> tuple[object, float]:
    """(what `build()` returns, the seconds it took)."""
    start = time.perf_counter()
    return build(), time.perf_counter() - start


def variants(classifier, folder: str | os.PathLike, threads: int | None = 1,
             compile: bool = True) -> list[Variant]:
    """The seven variants of a fine-tuned classifier (six with `compile=False`); ONNX files go in `folder`."""
    model = classifier.model.cpu().eval()
    folder, encoder = Path(folder), classifier.model.encoder.config
    torch_int8, torch_s = timed(lambda: quantize_dynamic(model))
    fp32, export_s = timed(lambda: export_onnx(model, folder / "model.onnx",
                                               max_tokens=classifier.config.max_len))
    int8, int8_s = timed(lambda: quantize_onnx(fp32, folder / "model-int8.onnx"))
    fused, fuse_s = timed(lambda: fuse_attention(export_onnx_legacy(model, folder / "legacy.onnx"),
                                                 folder / "fused.onnx", encoder.num_attention_heads,
                                                 encoder.hidden_size))
    fused_int8, fused_int8_s = timed(lambda: quantize_onnx(fused, folder / "fused-int8.onnx"))
    found = [Variant("eager fp32", model, model), Variant("torch int8", torch_int8, torch_int8, torch_s)]
    if compile:
        with torch_threads(threads):  # the generated kernels are built for the thread count of the moment
            compiled, compile_s = compile_model(model)
        found.append(Variant("torch compile", compiled, model, compile_s))
    return found + [Variant("onnx fp32", OnnxModel(fp32, threads), fp32, export_s),
                    Variant("onnx int8", OnnxModel(int8, threads), int8, export_s + int8_s),
                    Variant("onnx fused fp32", OnnxModel(fused, threads), fused, fuse_s),
                    Variant("onnx fused int8", OnnxModel(fused_int8, threads), fused_int8,
                            fuse_s + fused_int8_s)]


def compare(classifier, found: Sequence[Variant], texts: Sequence[str], labels: Sequence[int],
            batch_size: int = 32, n_latency: int = 50, threads: int | None = 1,
            repeats: int = 3) -> list[dict]:
    """Measure each variant on the same reviews, the first variant being the reference.

    Tokenization is done once, before any clock starts (it is the same for every variant). Latency: forward
    passes of single reviews (the first `n_latency`). Throughput: all the reviews in batches of `batch_size`,
    sorted by length so that batches carry little padding, the fastest of `repeats` passes (as `timeit` does:
    other jobs on the machine only ever add time). The variants take turns, pass by pass and review by review,
    so that a burst of load slows them alike. Agreement: the share of labels equal to the reference's, and the
    largest change of P(positive). Each rate comes with its 95% interval (`intervals.wilson`), and the change
    of accuracy with the paired interval on the same reviews (`intervals.paired_difference`).
    """
    if repeats < 1 or batch_size < 1:
        raise ValueError(f"repeats and batch_size must be positive, got {repeats} and {batch_size}.")
    labels = np.asarray(labels)
    pad_id = classifier.tokenizer.pad_token_id
    # Cleaned and truncated as the predictor does (as in training), [CLS] and [SEP] added.
    ids = classifier.inputs([clean_text(t, lowercase=False) for t in texts])
    singles = [pad_batch([x], [0], pad_id)[0] for x in ids[:n_latency]]
    order = np.argsort([len(x) for x in ids], kind="stable")
    batches = [pad_batch([ids[i] for i in order[s:s + batch_size]], [0] * len(order[s:s + batch_size]),
                         pad_id)[0] for s in range(0, len(ids), batch_size)]
    models = [variant.model for variant in found]
    with torch_threads(threads), torch.inference_mode():
        ms = latencies_ms(models, singles)  # (variants, n_latency)
        for model in models:
            model(**batches[0])  # warm-up
        seconds, logits = np.full(len(found), np.inf), [None] * len(found)
        for _ in range(repeats):  # the variants take turns, as in latencies_ms
            for i, model in enumerate(models):
                start = time.perf_counter()
                logits[i] = torch.cat([model(**b).float() for b in batches])  # (N, classes), in length order
                seconds[i] = min(seconds[i], time.perf_counter() - start)
    rows, reference = [], None
    for variant, variant_ms, variant_seconds, variant_logits in zip(found, ms, seconds, logits):
        p = np.empty(len(ids))
        p[order] = variant_logits.softmax(-1)[:, 1].numpy()
        reference = p if reference is None else reference
        correct, agree = (p >= 0.5) == labels, (p >= 0.5) == (reference >= 0.5)
        gap = paired_difference((reference >= 0.5) == labels, correct)
        rows.append({"variant": variant.name, "size_bytes": size_on_disk(variant.stored),
                     "build_seconds": variant.build_seconds,
                     "latency_p50_ms": float(np.percentile(variant_ms, 50)),
                     "latency_p95_ms": float(np.percentile(variant_ms, 95)),
                     "throughput_per_s": len(ids) / variant_seconds,
                     "test_accuracy": float(correct.mean()),
                     "test_accuracy_interval": wilson(int(correct.sum()), len(p)),
                     "accuracy_delta_points": 100 * gap[0],
                     "accuracy_delta_points_interval": (100 * gap[1], 100 * gap[2]),
                     "label_agreement": float(agree.mean()),
                     "label_agreement_interval": wilson(int(agree.sum()), len(p)),
                     "max_probability_change": float(np.abs(p - reference).max())})
    for row in rows:
        row["throughput_ratio_vs_eager"] = row["throughput_per_s"] / rows[0]["throughput_per_s"]
    return rows


def model_to_deploy(train, val, test, profile: config.Profile, seed: int = 0, progress: bool = True):
    """(chapter 08's fine-tuned transformer at `deploy_n_train` reviews, the test reviews to measure it on).

    The same recipe and splits as chapter 08's pipeline (`ensemble.pipeline_config`,
    `ensemble.pipeline_splits`); where `deploy_n_train` equals `pipeline_n_train` it is 08's very model,
    loaded from chapter 06's cache.
    """
    sized = dataclasses.replace(profile, pipeline_n_train=profile.deploy_n_train)
    small_train, val, test = ensemble.pipeline_splits(train, val, test, sized, seed)
    transformer = ensemble.train_transformer(small_train, val, sized, progress=progress)
    return transformer, test.select(range(min(profile.deploy_n_test, len(test))))
