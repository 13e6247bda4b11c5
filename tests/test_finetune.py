import dataclasses
import doctest
import math
import random
import signal

import pytest
import torch
from datasets import Dataset
from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoTokenizer, BertConfig, BertModel

from helpers import batching, finetune, models
from tiny import kill_a_save

POSITIVE, NEGATIVE = ("great", "superb", "wonderful"), ("awful", "boring", "dreadful")
FILLER = "the film plot actor scene story music camera end of a and it was this".split()


def toy_reviews(n: int, seed: int) -> Dataset:
    """Short reviews whose label is told by one sentiment word among neutral ones."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = rng.choices(FILLER, k=rng.randint(4, 12))
        words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if label else NEGATIVE))
        texts.append(" ".join(words))
        labels.append(label)
    return Dataset.from_dict({"text": texts, "label": labels})


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.offline_model_path())


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tokenizer):
    """A tiny random BERT with the packaged WordPiece vocabulary, saved as a local checkpoint folder."""
    torch.manual_seed(123)  # not a FinetuneConfig seed, so "from scratch" differs from this "pre-trained" one
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    folder = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


TOY = finetune.FinetuneConfig(lr=3e-3, epochs=4, batch_size=16, max_len=24, warmup=0.1, seed=0)


def test_head_tail_and_head_plus_tail_keep_the_right_ids():
    ids = list(range(100))
    assert finetune.truncate(ids, 10, "head") == list(range(10))
    assert finetune.truncate(ids, 10, "tail") == list(range(90, 100))
    assert finetune.truncate(ids, 10, "head+tail") == [0, 1, 2] + list(range(93, 100))
    assert finetune.truncate(ids, 510, "head+tail") == ids  # short reviews are untouched
    kept = finetune.truncate(list(range(1000)), 510, "head+tail")
    # Sun et al.: 128 + 382
    assert kept[:128] == list(range(128)) and kept[128:] == list(range(1000 - 382, 1000))
    assert finetune.truncate(ids, 10, "head+tail", head=0) == finetune.truncate(ids, 10, "tail")


@given(st.lists(st.integers(0, 50), max_size=60), st.integers(1, 40), st.sampled_from(finetune.TRUNCATIONS))
def test_truncation_keeps_a_prefix_and_a_suffix_in_order(ids, n, strategy):
    kept = finetune.truncate(ids, n, strategy)
    assert len(kept) == min(n, len(ids))
    tail_start = len(ids) - len(kept)
    assert any(kept[:k] == ids[:k] and kept[k:] == ids[tail_start + k:] for k in range(len(kept) + 1)), (
        "the kept ids are a start of the review followed by an end of it")


def test_truncate_review_adds_cls_and_sep_once(tokenizer):
    ids = finetune.encode(tokenizer, ["a rather long review " * 50])[0]
    for strategy in finetune.TRUNCATIONS:
        framed = finetune.truncate_review(ids, 32, strategy, tokenizer.cls_token_id, tokenizer.sep_token_id)
        assert len(framed) == 32
        assert framed.count(tokenizer.cls_token_id) == 1 and framed[0] == tokenizer.cls_token_id
        assert framed.count(tokenizer.sep_token_id) == 1 and framed[-1] == tokenizer.sep_token_id
    head = finetune.truncate_review(ids, 32, "head", tokenizer.cls_token_id, tokenizer.sep_token_id)
    assert head == tokenizer("a rather long review " * 50, max_length=32, truncation=True)["input_ids"]


def test_bad_truncation_settings_say_what_to_choose():
    with pytest.raises(ValueError, match="head, tail, head\\+tail"):
        finetune.truncate([1, 2, 3], 2, "middle")
    with pytest.raises(ValueError, match="max_len"):
        finetune.truncate_review([1, 2, 3], 2, "head", 101, 102)


@pytest.mark.parametrize("max_len, overlap", [(16, 0), (16, 5), (40, 13), (300, 50)])
def test_chunks_are_the_tokenizers_overflowing_windows(tokenizer, max_len, overlap):
    text = "An uneven film. The first act drags, but the ending is wonderful and moving. " * 12
    ids = finetune.encode(tokenizer, [text])[0]
    mine = finetune.chunk_review(ids, max_len, overlap, tokenizer.cls_token_id, tokenizer.sep_token_id)
    theirs = tokenizer(text, max_length=max_len, truncation=True, stride=overlap,
                       return_overflowing_tokens=True)["input_ids"]
    assert mine == theirs
    covered = [i for w in mine for i in w[1:-1]]
    assert set(covered) == set(ids) and len(covered) >= len(ids)


def test_chunk_overlap_must_leave_room_to_advance():
    with pytest.raises(ValueError, match="overlap"):
        finetune.chunk_review(list(range(20)), max_len=6, overlap=4, cls_id=101, sep_id=102)


def test_mean_pooling_ignores_padding_and_cls_reads_the_first_token():
    hidden = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    garbage = hidden.clone()
    garbage[0, 3:] = 1e6
    torch.testing.assert_close(finetune.pool(garbage, mask, "mean"), finetune.pool(hidden, mask, "mean"))
    torch.testing.assert_close(finetune.pool(hidden, mask, "mean")[0], hidden[0, :3].mean(0))
    torch.testing.assert_close(finetune.pool(hidden, mask, "cls"), hidden[:, 0])


@pytest.mark.parametrize("pooling", finetune.POOLINGS)
def test_a_review_gets_the_same_logits_alone_or_padded_in_a_batch(checkpoint, tokenizer, pooling):
    config = dataclasses.replace(TOY, pooling=pooling)
    _, model = finetune.build_classifier(checkpoint, config, verbose=False)
    model.eval()
    short, long = [101, 2307, 102], [101, 2307, 2143, 2001, 6659, 102]
    inputs, _ = batching.pad_batch([short, long], [0, 0], tokenizer.pad_token_id)
    alone, _ = batching.pad_batch([short], [0], tokenizer.pad_token_id)
    torch.testing.assert_close(model(**inputs)[0], model(**alone)[0], atol=1e-5, rtol=1e-5)


def test_config_rejects_bad_settings_with_one_clear_message():
    with pytest.raises(ValueError, match="truncation.*pooling.*lr must be positive"):
        finetune.FinetuneConfig(truncation="middle", pooling="max", lr=0)
    with pytest.raises(ValueError, match="warmup"):
        finetune.FinetuneConfig(warmup=1.5)
    assert finetune.FinetuneConfig().key() != finetune.FinetuneConfig(lr=1e-4).key()


@pytest.fixture(scope="module")
def trained(checkpoint):
    return finetune.train_classifier(toy_reviews(192, 0), toy_reviews(64, 1), TOY, model_name=checkpoint,
                                     progress=False)


@pytest.mark.slow
def test_fine_tuning_learns_the_toy_task(trained):
    assert trained.history.best["val_accuracy"] >= 0.9
    assert trained.accuracy(toy_reviews(64, 2)) >= 0.9
    assert [row["epoch"] for row in trained.history.epochs] == [1, 2, 3, 4]


@pytest.mark.slow
def test_learning_rate_warms_up_linearly_then_decays_to_zero(trained):
    lrs = [row["lr"] for row in trained.history.steps]
    steps = len(lrs)  # 4 epochs of 12 batches
    warmup = math.ceil(0.1 * steps)
    assert steps == 48 and lrs[0] == 0.0
    assert lrs[warmup] == pytest.approx(TOY.lr)
    assert all(a < b for a, b in zip(lrs[:warmup], lrs[1:warmup + 1]))
    assert all(a > b for a, b in zip(lrs[warmup:], lrs[warmup + 1:]))
    assert lrs[-1] == pytest.approx(TOY.lr / (steps - warmup))


@pytest.mark.slow
def test_a_frozen_encoder_does_not_move_but_the_head_does(checkpoint):
    config = dataclasses.replace(TOY, freeze_encoder=True, epochs=1)
    tokenizer, model = finetune.build_classifier(checkpoint, config, verbose=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batches = finetune.FineTuned(model, tokenizer, config, finetune.History(), 0, checkpoint).batches(
        toy_reviews(32, 0)["text"], toy_reviews(32, 0)["label"], train=True)
    finetune.fit(model, batches, batches, config, progress=False)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    assert not torch.equal(before["head.weight"], after["head.weight"])


@pytest.mark.slow
def test_clipping_bounds_the_gradient_the_optimizer_sees(checkpoint, monkeypatch):
    norms = []
    step = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        grads = [p.grad.norm() for group in self.param_groups for p in group["params"] if p.grad is not None]
        norms.append(torch.stack(grads).norm().item())
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    for clip in (1e-3, None):
        config = dataclasses.replace(TOY, clip_norm=clip, epochs=1)
        tokenizer, model = finetune.build_classifier(checkpoint, config, verbose=False)
        batches = finetune.FineTuned(model, tokenizer, config, finetune.History(), 0, checkpoint).batches(
            toy_reviews(16, 0)["text"], toy_reviews(16, 0)["label"], train=True)
        finetune.fit(model, batches, batches, config, progress=False)
    assert norms[0] <= 1e-3 * (1 + 1e-4) < norms[1]


@pytest.mark.slow
def test_predict_proba_keeps_the_callers_order_and_checks_its_input(trained):
    texts = ["a great film", "an awful and boring plot with a long ending of the story", "superb"]
    proba = trained.predict_proba(texts)
    assert proba.shape == (3, 2)
    torch.testing.assert_close(proba.sum(1), torch.ones(3))
    torch.testing.assert_close(trained.predict_proba(texts[::-1]), proba.flip(0))
    assert proba[0, 1] > 0.5 > proba[1, 1]
    with pytest.raises(TypeError, match="wrap it in a list"):
        trained.predict_proba("a great film")
    with pytest.raises(ValueError, match="empty"):
        trained.predict_proba([])


@pytest.mark.slow
def test_save_and_load_give_the_same_predictions(trained, tmp_path):
    texts = toy_reviews(20, 3)["text"]
    folder = trained.save(tmp_path / "clf")
    loaded = finetune.load(folder)
    torch.testing.assert_close(loaded.predict_proba(texts), trained.predict_proba(texts))
    assert loaded.config == trained.config and loaded.history.epochs == trained.history.epochs
    trained.save(tmp_path / "clf")  # overwriting an existing save works too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf"]


@pytest.mark.slow
def test_a_failed_save_leaves_nothing_behind(trained, tmp_path, monkeypatch):
    trained.save(tmp_path / "clf")
    old = (tmp_path / "clf" / "model.safetensors").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(trained.tokenizer, "save_pretrained", broken)
    with pytest.raises(OSError, match="disk full"):
        trained.save(tmp_path / "clf")
    with pytest.raises(OSError, match="disk full"):
        trained.save(tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf"]
    assert (tmp_path / "clf" / "model.safetensors").read_bytes() == old


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["writing", "swapping"])
def test_a_save_killed_midway_leaves_the_old_classifier_loadable(trained, tmp_path, stage):
    texts = toy_reviews(20, 3)["text"]
    folder = trained.save(tmp_path / "clf")
    assert kill_a_save(folder, stage, "classifier") == -signal.SIGKILL
    assert folder.exists() == (stage == "writing"), "killed while writing, or between the two renames"
    torch.testing.assert_close(finetune.load(folder).predict_proba(texts), trained.predict_proba(texts))
    trained.save(folder)  # the next save clears what the killed one left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf"]


def test_loading_a_folder_without_a_classifier_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved classifier"):
        finetune.load(tmp_path)


@pytest.mark.slow
def test_a_cached_run_is_loaded_instead_of_retrained(checkpoint, tmp_path, monkeypatch, capsys):
    train, val, config = toy_reviews(32, 0), toy_reviews(16, 1), dataclasses.replace(TOY, epochs=1)
    first = finetune.train_classifier(train, val, config, model_name=checkpoint, cache_dir=tmp_path,
                                      progress=False)
    monkeypatch.setattr(finetune, "fit", lambda *a, **k: pytest.fail("retrained a cached run"))
    again = finetune.train_classifier(train, val, config, model_name=checkpoint, cache_dir=tmp_path)
    assert "from the cache" in capsys.readouterr().out
    torch.testing.assert_close(again.predict_proba(val["text"]), first.predict_proba(val["text"]))
    assert again.history.epochs == first.history.epochs
    keys = {finetune.cache_key(checkpoint, config, train, val),
            finetune.cache_key(checkpoint, dataclasses.replace(config, seed=1), train, val),
            finetune.cache_key(checkpoint, config, toy_reviews(32, 5), val),
            finetune.cache_key(checkpoint, config, train, val, pretrained=False)}
    assert len(keys) == 4


def test_the_unused_pooler_is_dropped(checkpoint):
    _, model = finetune.build_classifier(checkpoint, TOY, verbose=False)
    assert model.encoder.pooler is None and not any("pooler" in name for name, _ in model.named_parameters())


def test_from_scratch_has_the_same_shape_and_different_weights(checkpoint):
    _, pretrained = finetune.build_classifier(checkpoint, TOY, verbose=False)
    _, scratch = finetune.build_classifier(checkpoint, TOY, pretrained=False, verbose=False)
    shapes = {k: v.shape for k, v in pretrained.state_dict().items()}
    assert shapes == {k: v.shape for k, v in scratch.state_dict().items()}
    emb = "encoder.embeddings.word_embeddings.weight"
    assert not torch.equal(pretrained.state_dict()[emb], scratch.state_dict()[emb])


@pytest.mark.slow
def test_the_trainer_runs_the_same_schedule_and_learns_the_same_task(checkpoint, trained, capsys):
    tokenizer, model = finetune.build_classifier(checkpoint, TOY, verbose=False)
    history = finetune.trainer_fit(model, tokenizer, toy_reviews(192, 0), toy_reviews(64, 1), TOY,
                                   logging_steps=1)
    assert [row["lr"] for row in history.steps] == pytest.approx([row["lr"] for row in trained.history.steps])
    assert [row["epoch"] for row in history.epochs] == [1, 2, 3, 4]
    assert history.best["val_accuracy"] >= 0.9
    out = capsys.readouterr()
    assert "{" not in out.out, "the Trainer's log dicts are not printed"


@pytest.mark.slow
def test_the_benchmark_scores_its_own_fixed_test_sample(monkeypatch, checkpoint):
    from helpers import bench, config

    smoke = config.get_profile("smoke")
    fast = dataclasses.replace(smoke.finetune_optim, lr=3e-3)
    smoke = dataclasses.replace(smoke, model_name=checkpoint, finetune_optim=fast,
                                bench_finetune_n_train=64, bench_finetune_n_val=16, bench_finetune_n_test=48)
    monkeypatch.setitem(config.PROFILES, "smoke", smoke)
    runs, train_classifier = [], finetune.train_classifier

    def spy(*args, **kwargs):
        runs.append(train_classifier(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(finetune, "train_classifier", spy)
    [row] = bench.run("finetune_pretrained", profile_name="smoke")
    assert (row["n_train"], row["n_val"], row["n_test"]) == (64, 16, 48), "the sizes actually used"
    [trained] = runs  # the row rounds to 4 digits
    assert 0 <= row["test_accuracy"] <= 1
    assert row["val_accuracy"] == pytest.approx(trained.history.best["val_accuracy"], abs=1e-4)
    assert row["train_seconds"] == pytest.approx(trained.train_seconds, abs=1e-4), "the run's own time"
    assert trained.train_seconds >= sum(e["seconds"] for e in trained.history.epochs), "every epoch's time"
    assert row["params"]["pooling"] == "mean" and row["params"]["truncation"] == "head+tail"
    assert "fine-tuned" in row["description"]


def test_doctests():
    assert doctest.testmod(finetune).failed == 0


def test_the_trainer_gets_the_settings_it_always_got(tmp_path, monkeypatch):
    # Recorded before train_sentiment shared this function (issue 22), on a CPU: chapter 06's run as it was.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = finetune.FinetuneConfig(lr=3e-4, epochs=2, batch_size=8, eval_batch_size=32, warmup=0.2,
                                     schedule="cosine", weight_decay=0.05, clip_norm=None, seed=7,
                                     accumulation=2, precision="bf16")
    recorded = {"learning_rate": 3e-4, "lr_scheduler_type": "cosine", "warmup_steps": 0.2,
                "weight_decay": 0.05, "max_grad_norm": 0.0, "per_device_train_batch_size": 8,
                "per_device_eval_batch_size": 32, "num_train_epochs": 2, "gradient_accumulation_steps": 2,
                "seed": 7, "data_seed": None, "bf16": True, "fp16": False, "use_cpu": True,
                "train_sampling_strategy": "group_by_length", "eval_strategy": "epoch", "logging_steps": 5,
                "ddp_backend": None, "average_tokens_across_devices": True}
    args = finetune.training_arguments(config, tmp_path, logging_steps=5)
    assert {name: getattr(args, name) for name in recorded} == recorded


def test_overrides_replace_the_trainers_settings_and_misspelt_ones_are_refused(tmp_path):
    args = finetune.training_arguments(TOY, tmp_path, eval_strategy="no", data_seed=3)
    assert (args.eval_strategy, args.data_seed, args.learning_rate) == ("no", 3, TOY.lr)
    with pytest.raises(TypeError, match="eval_stratgy"):
        finetune.training_arguments(TOY, tmp_path, eval_stratgy="no")


def test_the_trainer_gets_the_switches_chapter_08_added(tmp_path):
    config = dataclasses.replace(TOY, accumulation=3, precision="bf16")
    args = finetune.training_arguments(config, tmp_path)
    assert args.gradient_accumulation_steps == 3 and args.bf16 and not args.fp16
    assert finetune.training_arguments(TOY, tmp_path).gradient_accumulation_steps == 1
