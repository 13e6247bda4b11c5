"""Every model that trains takes its optimizer settings from the profile, in every profile."""

import dataclasses

import pandas as pd
import pytest
import torch
from datasets import Dataset

from helpers import bench, classifiers, config, ensemble, finetune, language_model, pretraining, seq2seq
from helpers import training, transformer

MARKED = config.OptimizerSettings(lr=0.0123, weight_decay=0.0456, clip_norm=7.5, warmup=0.25)
REVIEWS = Dataset.from_dict({"text": ["a great film, great fun", "an awful film, dull and long"] * 4,
                             "label": [1, 0] * 4})


class Stop(Exception):
    """Raised by a spy once it has seen what the trainer passed on: nothing needs to train."""


def spy(monkeypatch, module, name: str) -> dict:
    """Replace module.name by a function that records its keyword arguments and stops the trainer."""
    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(module, name, record)
    return seen


def settings_of(kwargs: dict) -> tuple:
    """(lr, weight_decay, clip_norm, warmup) as a trainer passed them on."""
    return kwargs["lr"], kwargs["weight_decay"], kwargs["clip_norm"], kwargs["warmup"]


MARKED_SETTINGS = (MARKED.lr, MARKED.weight_decay, MARKED.clip_norm, MARKED.warmup)


@pytest.fixture(params=list(config.PROFILES))
def profile(request) -> config.Profile:
    """Each profile, with every model's optimizer settings replaced by MARKED."""
    base = config.PROFILES[request.param]
    marked = {f.name: MARKED for f in dataclasses.fields(base) if f.name.endswith("_optim")}
    return dataclasses.replace(base, embed_dim=8, hidden_dim=8, **marked)


@pytest.mark.parametrize("train", [classifiers.train_nbow_bigram, classifiers.train_bilstm])
def test_the_chapter_03_classifiers_train_with_the_profiles_settings(monkeypatch, profile, train):
    seen = spy(monkeypatch, training, "fit")
    with pytest.raises(Stop):
        train(REVIEWS, REVIEWS, profile, progress=False)
    assert settings_of(seen) == MARKED_SETTINGS


def test_the_transformer_classifier_trains_with_the_profiles_settings(monkeypatch, profile):
    seen = spy(monkeypatch, training, "fit")
    with pytest.raises(Stop):
        transformer.train_classifier(REVIEWS, REVIEWS, profile, progress=False)
    assert settings_of(seen) == MARKED_SETTINGS[:3] + (None,), "a constant rate unless warmup=True"
    with pytest.raises(Stop):
        transformer.train_classifier(REVIEWS, REVIEWS, profile, progress=False, warmup=True)
    assert settings_of(seen) == MARKED_SETTINGS


@pytest.mark.parametrize("kind", ["gru", "bahdanau", "transformer"])
def test_the_seq2seq_models_train_with_the_profiles_settings(monkeypatch, profile, kind):
    counted = dataclasses.replace(MARKED, warmup=30)  # seq2seq's warmup counts updates
    profile = dataclasses.replace(profile, seq2seq_optim=counted, seq2seq_transformer_optim=counted)
    seen = spy(monkeypatch, seq2seq, "train")
    with pytest.raises(Stop):
        seq2seq.fit(kind, {"train": [], "val": []}, profile, progress=False)
    assert (seen["lr"], seen["weight_decay"], seen["clip_norm"], seen["warmup_steps"]) == (
        MARKED.lr, MARKED.weight_decay, MARKED.clip_norm, 30)


def adamw_spy(monkeypatch) -> dict:
    """Record the keyword arguments torch.optim.AdamW is built with, and stop there."""
    seen = {}

    def record(params, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(torch.optim, "AdamW", record)
    return seen


def test_the_rnn_language_model_trains_with_the_profiles_settings(monkeypatch, profile):
    seen = adamw_spy(monkeypatch)
    model = language_model.RNNLanguageModel(vocab_size=8, embed_dim=4, hidden_dim=4)
    rows = torch.zeros(2, 20, dtype=torch.long)
    with pytest.raises(ValueError, match="constant rate"):
        language_model.train_language_model(model, rows, rows, 1, 5, profile.lm_optim, progress=False)
    with pytest.raises(Stop):
        language_model.train_language_model(model, rows, rows, 1, 5, dataclasses.replace(
            profile.lm_optim, warmup=None), progress=False)
    assert seen == {"lr": MARKED.lr, "weight_decay": MARKED.weight_decay}


def test_the_tiny_lms_pre_train_with_the_profiles_settings(monkeypatch, profile):
    seen = adamw_spy(monkeypatch)
    model = pretraining.tiny_gpt(20, 8, hidden=8, layers=1)
    with pytest.raises(Stop):
        pretraining.train_lm(model, "causal", torch.zeros(4, 8, dtype=torch.long), 10, profile.tiny_lm_optim,
                             progress=False)
    assert seen == {"lr": MARKED.lr, "weight_decay": MARKED.weight_decay}


def test_fine_tuning_takes_the_profiles_settings_in_the_pipeline_and_the_benchmark(monkeypatch, profile):
    as_config = (MARKED.lr, MARKED.weight_decay, MARKED.clip_norm, MARKED.warmup)
    settings = ensemble.pipeline_config(profile)
    assert (settings.lr, settings.weight_decay, settings.clip_norm, settings.warmup) == as_config
    seen = {}

    def record(train, val, settings, **kwargs):
        seen["settings"] = settings
        raise Stop

    monkeypatch.setattr(finetune, "train_classifier", record)
    with pytest.raises(Stop):
        bench.REGISTRY["finetune_pretrained"].fn(REVIEWS, REVIEWS, REVIEWS, profile)
    settings = seen["settings"]
    assert (settings.lr, settings.weight_decay, settings.clip_norm, settings.warmup) == as_config


def test_the_full_profile_fine_tunes_bert_at_its_own_rate():
    rates = {name: profile.finetune_optim.lr for name, profile in config.PROFILES.items()}
    assert rates == {"smoke": 1e-4, "cpu": 1e-4, "full": 3e-5}


def test_optimizer_settings_refuse_what_no_trainer_can_use():
    for bad in [dict(lr=0.0), dict(lr=1e-3, weight_decay=-0.1), dict(lr=1e-3, clip_norm=0.0),
                dict(lr=1e-3, warmup=1.5), dict(lr=1e-3, warmup=-3)]:
        with pytest.raises(ValueError):
            config.OptimizerSettings(**bad)


def test_the_profile_table_shows_optimizer_settings_as_short_text():
    rows = {row["name"]: row for row in config.profile_table()}
    assert rows["cpu"]["bilstm_optim"] == "lr 0.002, clip 5"
    assert rows["full"]["finetune_optim"] == "lr 3e-05, decay 0.01, clip 1, warmup 0.1"
    table = pd.DataFrame(list(rows.values())).set_index("name").T  # as notebook 00 shows it
    assert table.loc["seq2seq_transformer_optim", "smoke"] == "lr 0.003, decay 0.01, clip 1, warmup 200"
