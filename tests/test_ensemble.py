import doctest

import numpy as np
import pytest
from datasets import Dataset

from helpers import config, ensemble


def test_docstring_examples():
    assert doctest.testmod(ensemble).failed == 0


def test_the_weight_follows_the_better_member():
    labels = np.array([1, 0, 1, 0, 1, 0])
    right = labels * 0.8 + 0.1  # 0.9 for positives, 0.1 for negatives
    wrong = 1 - right
    assert ensemble.choose_weight(right, wrong, labels)[0] > 0.5
    assert ensemble.choose_weight(wrong, right, labels)[0] < 0.5
    weight, scores = ensemble.choose_weight(right, right, labels)
    assert weight == 0.5 and set(scores.values()) == {1.0}, "a tie goes to the even mix"


def test_typos_keep_each_word_recognizable_and_the_rate_bounded():
    text = "an absolutely wonderful and moving film with superb acting throughout"
    assert ensemble.add_typos(text, rate=0.0) == text
    typo = ensemble.add_typos(text, rate=1.0, seed=5)
    assert typo != text and len(typo.split()) == len(text.split())
    for before, after in zip(text.split(), typo.split()):
        assert (before[0], before[-1]) == (after[0], after[-1]) and abs(len(before) - len(after)) <= 1
    assert ensemble.add_typos(text, 0.5, seed=1) == ensemble.add_typos(text, 0.5, seed=1), "seeded"
    with pytest.raises(ValueError, match="between 0 and 1"):
        ensemble.add_typos(text, rate=1.5)


def test_pipeline_splits_are_cleaned_fixed_subsets():
    profile = config.get_profile("smoke")
    rows = {"text": [f"Review {i}.<br /><br />It was {'good' if i % 2 else 'bad'}." for i in range(400)],
            "label": [i % 2 for i in range(400)]}
    ds = Dataset.from_dict(rows)
    train, val, test = ensemble.pipeline_splits(ds, ds, ds, profile)
    assert (len(train), len(val), len(test)) == (profile.pipeline_n_train, profile.pipeline_n_eval,
                                                 profile.pipeline_n_eval)
    assert not any("<br" in t for t in train["text"]) and "Review" in train["text"][0]
    assert (ensemble.pipeline_splits(ds, ds, ds, profile)[2]["text"]
            == test["text"]), "the same reviews every time"


def test_the_pipeline_fine_tunes_at_the_profiles_rate_for_its_model():
    for profile in config.PROFILES.values():
        settings, optim = ensemble.pipeline_config(profile), profile.finetune_optim
        assert (settings.lr, settings.weight_decay, settings.clip_norm, settings.warmup) == (
            optim.lr, optim.weight_decay, optim.clip_norm, optim.warmup), profile.name
