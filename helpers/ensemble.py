"""Two models are better than one when they err differently: a fine-tuned transformer averaged with TF-IDF.

The weight of each member is chosen on validation, never on test. Also here: the pipeline's data (the same
splits for the notebook and the benchmark, so a fine-tuned model cached by one is reused by the other) and
typo-perturbed reviews for measuring robustness.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

import numpy as np
from datasets import Dataset

from helpers import baselines, data, finetune
from helpers.config import Profile
from helpers.tokenization import clean_text

WEIGHTS = tuple(np.round(np.linspace(0, 1, 21), 2))  # 0.0, 0.05, ..., 1.0


def clean(ds: Dataset) -> Dataset:
    """Reviews with HTML removed, entities unescaped, spaces squeezed, case kept: what the predictor reads."""
    columns = {name: ds[name] for name in ds.column_names}  # a new table, not .map: no progress bar
    columns["text"] = [clean_text(text, lowercase=False) for text in columns["text"]]
    return Dataset.from_dict(columns, features=ds.features)


def pipeline_splits(train: Dataset, val: Dataset, test: Dataset, profile: Profile,
                    seed: int = 0) -> tuple[Dataset, Dataset, Dataset]:
    """Cleaned reviews: the transformer's training set and the fixed, seeded validation and test sets."""
    return (clean(data.subsample(train, profile.pipeline_n_train, seed)),
            clean(data.subsample(val, profile.pipeline_n_eval, seed)),
            clean(data.subsample(test, profile.pipeline_n_eval, seed)))


def predictor_profile(profile: Profile) -> Profile:
    """The profile with the served predictor's sizes as the pipeline's: the same recipe on the reviews and
    tokens of `predictor_n_train` and `predictor_max_len` (what `train_sentiment` and the benchmark use)."""
    return dataclasses.replace(profile, pipeline_n_train=profile.predictor_n_train,
                               pipeline_max_len=profile.predictor_max_len)


def pipeline_config(profile: Profile) -> finetune.FinetuneConfig:
    """The fine-tuning settings of the pipeline's transformer at the profile's sizes.

    Mean pooling, because all-MiniLM-L6-v2 was trained as a sentence encoder through the mean of its tokens
    (its [CLS] vector was never trained to summarize); the profile's `finetune_optim` for its model (1e-4 for
    MiniLM, as small models like; 3e-5 for bert-base-uncased). `python -m helpers.train_sentiment` starts
    from these settings too, so the notebook and the command train the same recipe.
    """
    optim = dataclasses.asdict(profile.finetune_optim)  # lr, weight_decay, clip_norm, warmup
    return finetune.FinetuneConfig(**optim, epochs=profile.finetune_epochs, batch_size=16,
                                   max_len=profile.pipeline_max_len, truncation="head+tail", pooling="mean")


def train_transformer(train: Dataset, val: Dataset, profile: Profile,
                      progress: bool = True) -> finetune.FineTuned:
    """The pipeline's fine-tuned transformer, from chapter 06's cache when this exact run was made before.

    One epoch leaves no epoch to choose, so fine-tuning checks only the first 200 validation reviews
    (a sanity check); all of validation then chooses the ensemble's weight.
    """
    return finetune.train_classifier(train, val.select(range(min(200, len(val)))), pipeline_config(profile),
                                     cache_dir=finetune.default_cache_dir(), progress=progress)


def mix(p_a: np.ndarray, p_b: np.ndarray, weight: float) -> np.ndarray:
    """The weighted average of two models' P(positive).

    >>> mix(np.array([0.9, 0.2]), np.array([0.5, 0.6]), 0.75).round(2).tolist()
    [0.8, 0.3]
    """
    return weight * np.asarray(p_a) + (1 - weight) * np.asarray(p_b)


def choose_weight(p_a: np.ndarray, p_b: np.ndarray, labels: Sequence[int],
                  weights: Sequence[float] = WEIGHTS) -> tuple[float, dict[float, float]]:
    """The weight of model A with the best accuracy (ties: the one nearest 0.5) and every accuracy tried.

    >>> choose_weight(np.array([0.9, 0.4, 0.6]), np.array([0.6, 0.7, 0.2]),
    ...               [1, 0, 0])[0]  # 0.7 and 0.75 get all 3
    0.7
    """
    labels = np.asarray(labels)
    scores = {float(w): float(((mix(p_a, p_b, w) >= 0.5) == labels).mean()) for w in weights}
    best = max(scores.values())
    return min((w for w, s in scores.items() if s == best), key=lambda w: abs(w - 0.5)), scores


def add_typos(text: str, rate: float, seed: int = 0) -> str:
    """Misspell about `rate` of the words longer than three letters: swap, drop or double one inner letter.

    >>> add_typos("a truly wonderful film", rate=1.0, seed=1)
    'a tuly wondrful flim'
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"rate is a share of the words, between 0 and 1, got {rate}.")
    rng = random.Random(seed)
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and word.isalpha() and rng.random() < rate:
            j = rng.randrange(1, len(word) - 2)  # keep the first and last letters: the word stays readable
            kind = rng.choice(("swap", "drop", "double"))
            if kind == "swap":
                words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
            elif kind == "drop":
                words[i] = word[:j] + word[j + 1:]
            else:
                words[i] = word[:j] + word[j] + word[j:]
    return " ".join(words)


def tfidf_member(train: Dataset, val: Dataset):
    """Chapter 00's baseline: TF-IDF + logistic regression, C chosen on validation, fitted on train only."""
    return baselines.select_and_fit(list(train["text"]), list(train["label"]), list(val["text"]),
                                    list(val["label"]))[0]
