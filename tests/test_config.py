import dataclasses
import random

import numpy as np
import pytest
import torch

from helpers import config


def test_profile_from_variable(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert config.get_profile().name == "smoke"
    assert config.get_profile("full").name == "full"


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "huge")
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        config.get_profile()


@pytest.mark.parametrize("cuda, expected", [(True, "full"), (False, "cpu")])
def test_default_profile_follows_cuda(monkeypatch, cuda, expected):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert config.get_profile().name == expected


def test_profiles_grow_from_smoke_to_full():
    smoke, cpu, full = (config.PROFILES[n] for n in ("smoke", "cpu", "full"))
    assert smoke.n_train is not None and smoke.n_train < 1_000
    for field in ("max_len", "vocab_size", "bpe_merges", "embed_dim", "hidden_dim"):
        assert getattr(smoke, field) < getattr(cpu, field) <= getattr(full, field), field
    assert full.model_name == "bert-base-uncased"


def test_seed_everything_makes_runs_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    config.seed_everything(7)
    first = draw()
    config.seed_everything(7)
    second = draw()
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    config.seed_everything(8)
    assert draw()[0] != first[0]


def test_device_prefers_cuda_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert config.get_device().type == "cpu"


def test_device_request_errors_are_clear(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="not available"):
        config.get_device("cuda")
    with pytest.raises(ValueError, match="cuda, mps or cpu"):
        config.get_device("tpu")


def test_chapter_03_sizes_are_positive_and_grow():
    smoke, cpu, full = (config.PROFILES[n] for n in ("smoke", "cpu", "full"))
    for field in ("nbow_epochs", "ngram_vocab_size", "bilstm_epochs", "sgns_epochs", "compare_epochs",
                  "lm_vocab_size", "lm_bptt", "lm_epochs"):
        assert 0 < getattr(smoke, field) <= getattr(cpu, field) <= getattr(full, field), field
    for field in ("compare_n_train", "lm_n_train"):  # None means every training review
        assert getattr(smoke, field) < (getattr(cpu, field) or float("inf")), field


def test_chapter_06_07_cpu_classifiers_take_dozens_of_steps():
    """A cpu run whose fine-tuning is 10 optimizer steps stays near chance (06's first did): 50 or more."""
    from helpers.finetune import FinetuneConfig

    cpu, batch = config.PROFILES["cpu"], FinetuneConfig().batch_size  # 06 and 07 use the default batch of 16
    steps = {"06 comparisons": cpu.finetune_n_train * cpu.finetune_epochs // batch,
             "06 largest curve point":
                 max(cpu.pretrain_sizes) * cpu.pretrain_epochs // cpu.pretrain_batch_size,
             "07 truncation classifier": cpu.long_n_train * cpu.finetune_epochs // batch}
    assert min(steps.values()) >= 50, steps


def test_profile_summary_shows_a_few_sizes_as_a_learner_reads_them():
    summary = config.profile_summary()
    assert 5 <= len(summary) <= 12  # a short table, not every field
    assert all(set(row) == {"smoke", "cpu", "full"} for row in summary.values())
    assert summary["IMDB training reviews"] == {"smoke": "240", "cpu": "all", "full": "all"}
    assert summary["vocabulary size"]["cpu"] == "25,000"
    assert summary["pre-trained model (06-09)"]["cpu"] == "all-MiniLM-L6-v2"


def test_profile_summary_names_only_real_fields():
    fields = {field.name for field in dataclasses.fields(config.Profile)}
    assert {field for _, field in config.PROFILE_SUMMARY} <= fields


def test_chapter_06_cpu_curves_read_a_fair_share_of_each_review():
    """At 48 tokens (98% of reviews are longer) TF-IDF beat the pre-trained encoder at every curve point."""
    cpu = config.PROFILES["cpu"]
    assert cpu.pretrain_max_len >= 256 and max(cpu.pretrain_sizes) * cpu.pretrain_epochs <= 1_000
