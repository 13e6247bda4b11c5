import dataclasses
import shutil
import types

import numpy as np
import pytest
import torch
from tiny import tiny_finetuned

from helpers import batching, bench, config, data, deploy, ensemble, finetune
from helpers.sentiment import SentimentPredictor

REVIEWS = ["A joy from start to finish.", "Two hours I will never get back, and the popcorn was stale too.",
           "Not bad.", "The plot made no sense, but the actors clearly had fun and so did I."]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny classifier, its ONNX export and the export's int8 quantization (made once: takes seconds)."""
    classifier = tiny_finetuned(max_len=32)
    folder = tmp_path_factory.mktemp("onnx")
    fp32 = deploy.export_onnx(classifier.model, folder / "model.onnx", max_tokens=32)
    int8 = deploy.quantize_onnx(fp32, folder / "model-int8.onnx")
    return classifier, fp32, int8


def _batch(classifier, texts):
    inputs, _ = batching.pad_batch(classifier.inputs(texts), [0] * len(texts),
                                   classifier.tokenizer.pad_token_id)
    return inputs


@pytest.mark.slow
def test_onnxruntime_gives_pytorchs_logits_for_any_batch_and_length(exported):
    classifier, fp32, _ = exported
    onnx = deploy.OnnxModel(fp32, threads=1)
    for texts in (REVIEWS[:1], REVIEWS, REVIEWS * 3):  # batch 1, 4 and 12; lengths other than the trace's
        inputs = _batch(classifier, texts)
        with torch.no_grad():
            expected = classifier.model(**inputs)
        assert inputs["attention_mask"].eq(0).any() or len(texts) == 1  # padding is exercised
        torch.testing.assert_close(onnx(**inputs), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_the_export_is_a_graph_and_its_weights_and_needs_both(exported, tmp_path):
    _, fp32, _ = exported
    assert (sorted(p.name for p in fp32.parent.iterdir())
            == ["model-int8.onnx", "model.onnx", "model.onnx.data"])
    assert deploy.size_on_disk(fp32) == sum(p.stat().st_size for p in deploy.onnx_files(fp32))
    shutil.copy(fp32, tmp_path / "model.onnx")  # the graph without its .data file
    with pytest.raises(Exception, match="model.onnx.data"):
        deploy.OnnxModel(tmp_path / "model.onnx")


def test_a_missing_model_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="export_onnx"):
        deploy.OnnxModel(tmp_path / "nothing.onnx")


def test_a_failed_export_leaves_nothing_behind(tmp_path):
    class Broken(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            raise RuntimeError("cannot trace this")

    with pytest.raises(Exception):
        deploy.export_onnx(Broken(), tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_predictor_runs_an_onnx_model_as_it_runs_pytorch(exported):
    classifier, fp32, int8 = exported
    reference = SentimentPredictor(classifier).predict_proba(REVIEWS)
    onnx = SentimentPredictor(dataclasses.replace(classifier, model=deploy.OnnxModel(fp32)))
    np.testing.assert_allclose(onnx.predict_proba(REVIEWS), reference, atol=1e-5)
    assert deploy.size_on_disk(int8) < deploy.size_on_disk(fp32) / 2


@pytest.mark.slow
def test_torch_dynamic_quantization_stores_int8_weights_and_leaves_the_original_alone(exported):
    classifier = exported[0]
    before = {k: v.clone() for k, v in classifier.model.state_dict().items()}
    quantized = deploy.quantize_dynamic(classifier.model)
    linear = [m for m in quantized.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert len(linear) == sum(isinstance(m, torch.nn.Linear) for m in classifier.model.modules()) > 0
    assert linear[0].weight().dtype == torch.qint8
    assert all(torch.equal(v, classifier.model.state_dict()[k]) for k, v in before.items())
    assert deploy.size_on_disk(quantized) < deploy.size_on_disk(classifier.model)
    inputs = _batch(classifier, REVIEWS)
    with torch.no_grad():
        assert quantized(**inputs).shape == (len(REVIEWS), 2)


@pytest.mark.slow
def test_compare_measures_every_variant_against_the_first(exported):
    classifier, fp32, int8 = exported
    found = [deploy.Variant("eager fp32", classifier.model, classifier.model),
             deploy.Variant("onnx fp32", deploy.OnnxModel(fp32, threads=1), fp32),
             deploy.Variant("onnx int8", deploy.OnnxModel(int8, threads=1), int8)]
    rows = deploy.compare(classifier, found, REVIEWS * 2, [1, 0, 1, 1] * 2, batch_size=4, n_latency=3)
    assert [r["variant"] for r in rows] == ["eager fp32", "onnx fp32", "onnx int8"]
    # every column of the deploy benchmark's table but the thread count, which the benchmark adds
    assert set(bench.DEPLOY_COLUMNS) - {"threads"} <= set(rows[0])
    assert rows[0]["throughput_ratio_vs_eager"] == 1 and rows[0]["accuracy_delta_points"] == 0
    assert rows[1]["label_agreement"] == 1 and rows[1]["max_probability_change"] < 1e-5
    assert rows[1]["size_bytes"] == deploy.size_on_disk(fp32)
    # Eight reviews say little: every rate carries its interval, and the reference's change is exactly 0.
    low, high = rows[1]["label_agreement_interval"]
    assert low < 0.8 and high == 1
    assert rows[0]["accuracy_delta_points_interval"] == (0, 0)
    low, high = rows[2]["test_accuracy_interval"]
    assert low < rows[2]["test_accuracy"] <= high
    assert all(r["latency_p95_ms"] >= r["latency_p50_ms"] > 0 for r in rows)


def test_torch_threads_is_restored():
    before = torch.get_num_threads()
    with deploy.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_compare_refuses_nonsense_settings():
    with pytest.raises(ValueError, match="repeats and batch_size must be positive"):
        deploy.compare(None, [], [], [], repeats=0)


@pytest.mark.slow
def test_latencies_are_timed_for_every_model_on_every_input(exported):
    classifier = exported[0]
    calls = []

    class Counting(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            calls.append(input_ids.shape)
            return classifier.model(input_ids, attention_mask)

    inputs = [_batch(classifier, [t]) for t in REVIEWS]
    ms = deploy.latencies_ms([classifier.model, Counting()], inputs, warmup=1)
    assert ms.shape == (2, len(REVIEWS)) and (ms > 0).all()
    assert len(calls) == 1 + len(REVIEWS)  # the warm-up, then each input once


@pytest.fixture(scope="module")
def fused(exported, tmp_path_factory):
    """The classifier's legacy export, fused by onnxruntime's transformer optimizer, and its int8 version."""
    classifier = exported[0]
    folder = tmp_path_factory.mktemp("fused")
    encoder = classifier.model.encoder.config
    legacy = deploy.export_onnx_legacy(classifier.model, folder / "legacy.onnx")
    fp32 = deploy.fuse_attention(legacy, folder / "fused.onnx", encoder.num_attention_heads,
                                 encoder.hidden_size)
    return legacy, fp32, deploy.quantize_onnx(fp32, folder / "fused-int8.onnx")


@pytest.mark.slow
def test_the_optimizer_fuses_one_attention_per_layer(exported, fused):
    classifier, _, _ = exported
    legacy, fp32, int8 = fused
    layers = classifier.model.encoder.config.num_hidden_layers
    assert deploy.operator_counts(legacy)["Softmax"] == layers  # attention written out before fusion
    assert deploy.operator_counts(fp32)["Attention"] == layers
    assert deploy.operator_counts(fp32)["Softmax"] == 0
    assert deploy.operator_counts(int8)["QAttention"] == layers  # int8 projections inside the fused attention
    assert classifier.model.encoder.config._attn_implementation == "eager"  # tiny's own; the copy is changed


def test_the_legacy_export_leaves_the_models_attention_alone(tmp_path):
    classifier = tiny_finetuned()
    classifier.model.encoder.set_attn_implementation("sdpa")
    deploy.export_onnx_legacy(classifier.model, tmp_path / "legacy.onnx")
    assert classifier.model.encoder.config._attn_implementation == "sdpa"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["legacy.onnx"]  # one file, nothing staged left


@pytest.mark.slow
def test_the_fused_graphs_give_eagers_logits_for_any_batch_and_length(exported, fused):
    classifier = exported[0]
    _, fp32, int8 = fused
    for texts in (REVIEWS[:1], REVIEWS * 3):  # batch 1 and 12, lengths other than the trace's, padding
        inputs = _batch(classifier, texts)
        with torch.no_grad():
            expected = classifier.model(**inputs)
        torch.testing.assert_close(deploy.OnnxModel(fp32, threads=1)(**inputs), expected,
                                   atol=1e-4, rtol=1e-4)
        # int8 rounds every projection of this random 32-wide model; its logits stay near, not equal
        got = deploy.OnnxModel(int8, threads=1)(**inputs)
        assert (got - expected).abs().max() < 0.25 * expected.abs().max() + 0.5


@pytest.mark.slow
def test_fusing_the_dynamo_export_finds_no_attention_and_says_what_to_do(exported, tmp_path):
    classifier, fp32, _ = exported
    encoder = classifier.model.encoder.config
    with pytest.raises(ValueError, match="export_onnx_legacy"):
        deploy.fuse_attention(fp32, tmp_path / "fused.onnx", encoder.num_attention_heads, encoder.hidden_size)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_compiled_model_gives_eagers_logits_without_compiling_again(exported, monkeypatch):
    # aot_eager runs torch.compile's whole front end (capture, guards, dynamic shapes) without generating C++,
    # so the test takes seconds; the benchmark and chapter 09 measure the inductor backend.
    classifier = exported[0]
    torch._dynamo.reset()
    before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    graphs_at_readings, readings = [], iter([100.0, 107.5])  # a clock this test controls

    def clock() -> float:
        graphs_at_readings.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
        return next(readings)

    monkeypatch.setattr(deploy, "time", types.SimpleNamespace(perf_counter=clock))
    compiled, seconds = deploy.compile_model(classifier.model, backend="aot_eager")
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert seconds == 7.5 and graphs_at_readings == [before, graphs] and graphs > before, "it times compiling"
    # other batch sizes and lengths than the examples; made outside inference mode, as `compare` makes them
    texts = (REVIEWS[:1], REVIEWS[:3], REVIEWS * 3, REVIEWS[2:3], [REVIEWS[0]] * 2)  # padded or not
    for inputs in [_batch(classifier, t) for t in texts]:
        with torch.inference_mode():
            torch.testing.assert_close(compiled(**inputs), classifier.model(**inputs), atol=1e-5, rtol=1e-5)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs  # no shape compiled anew


def test_model_to_deploy_is_chapter_08s_model_and_its_test_reviews(monkeypatch):
    runs = []

    def train_classifier(train, val, config, model_name=None, cache_dir=None, **kwargs):
        runs.append((finetune.cache_key(profile.model_name, config, train, val), cache_dir, len(train)))
        return tiny_finetuned()

    monkeypatch.setattr(finetune, "train_classifier", train_classifier)
    profile = dataclasses.replace(config.get_profile("smoke"), pipeline_n_train=24, pipeline_n_eval=40,
                                  deploy_n_train=24, deploy_n_test=8)
    dsd = data.load_imdb(n_train=profile.n_train, n_test=profile.n_test)
    train, val = data.train_val_split(dsd["train"], 0.1, seed=0)
    # as chapter 08 does
    small_train, val_08, test_08 = ensemble.pipeline_splits(train, val, dsd["test"], profile)
    ensemble.train_transformer(small_train, val_08, profile)
    classifier, test = deploy.model_to_deploy(train, val, dsd["test"], profile, progress=False)
    assert isinstance(classifier, finetune.FineTuned)
    assert runs[1] == runs[0]  # the same data, settings and cache: 08's cached model, not a new one
    assert list(test["text"]) == list(test_08["text"])[:8]
    smaller = dataclasses.replace(profile, deploy_n_train=12, deploy_n_test=1_000)
    _, test = deploy.model_to_deploy(train, val, dsd["test"], smaller, progress=False)
    assert runs[2][0] != runs[0][0] and runs[2][2] == 12 and len(test) == len(test_08)


@pytest.mark.slow
def test_per_channel_int8_gives_each_output_row_its_own_scale(exported):
    classifier = exported[0]
    per_tensor = deploy.quantize_dynamic(classifier.model)
    per_channel = deploy.quantize_dynamic(classifier.model, per_channel=True)
    first = next(m for m in per_channel.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear))
    assert first.weight().qscheme() == torch.per_channel_affine
    scales = first.weight().q_per_channel_scales()
    assert len(scales) == first.weight().shape[0] and scales.unique().numel() > 1
    # Rounding each row to its own scale loses less of the weights than one scale for the whole matrix.
    original = next(m for m in classifier.model.modules() if isinstance(m, torch.nn.Linear)).weight
    coarse = next(m for m in per_tensor.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear))
    error_per_channel = (first.weight().dequantize() - original).abs().mean()
    error_per_tensor = (coarse.weight().dequantize() - original).abs().mean()
    assert error_per_channel < error_per_tensor


@pytest.mark.slow
def test_onnx_per_channel_int8_runs_and_stays_close(tmp_path, exported):
    classifier, fp32, _ = exported
    per_channel = deploy.quantize_onnx(fp32, tmp_path / "pc.onnx", per_channel=True)
    inputs = _batch(classifier, REVIEWS)
    with torch.no_grad():
        reference = classifier.model(**inputs).softmax(-1)
        got = deploy.OnnxModel(per_channel, threads=1)(**inputs).softmax(-1)
    assert (got - reference).abs().max() < 0.05
