"""Benchmarks: train and evaluate course models, print one JSON line per result, keep RESULTS.md's tables.

    python -m helpers.bench tfidf_logreg --imdb ../shared/data/imdb --profile cpu
    python -m helpers.bench --all --record helpers/resources/benchmark_results.json --readme RESULTS.md

A benchmark is a function registered under a name, here, chapter by chapter: this module sits on top of the
chapters' modules, and none of them imports it. An IMDB benchmark gets (train, val, test, profile), with
validation carved from train and test scored once; a benchmark with its own data (a generated task, a timing
sweep) gets (profile, seed). Either returns one result row (a dict) or several (a list of dicts, one per model
or variant). Every row is stamped with what reproduces it (profile, seed, data fingerprint, git commit,
library versions, machine and date) and with what its table needs (see `results`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset

from helpers import (baselines, classifiers, config, data, deploy, ensemble, environment, finetune, intervals,
                     long_attention, models, results, seq2seq, training, transformer)
from helpers.config import Profile


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark: what it measures, how it is fed, how its rows are keyed and shown."""

    name: str
    description: str
    fn: Callable[..., dict | list[dict]]
    imdb: bool  # fed IMDB splits (True) or its own data (False)
    key: tuple[str, ...]  # row fields that tell this benchmark's rows apart (e.g. ("model",))
    columns: tuple[str, ...] | None  # fields its own table shows; None: its rows join the IMDB classifiers'


REGISTRY: dict[str, Benchmark] = {}


def register(name: str, description: str, *, imdb: bool = True, key: Sequence[str] = (),
             columns: Sequence[str] | None = None) -> Callable:
    """Register fn under `name`.

    imdb=True:  fn(train, val, test, profile) -> row or rows.
    imdb=False: fn(profile, seed) -> row or rows.
    Without `columns`, the rows are IMDB classifiers' accuracies and go in RESULTS.md's IMDB table; with them,
    in a table of the benchmark's own showing those fields. `key` names the fields that make rows of one
    benchmark distinct (each row must have them).
    """
    if not imdb and columns is None:
        raise ValueError(f"Benchmark {name!r} brings its own data: list the row fields its table shows "
                         "(columns=).")

    def add(fn: Callable) -> Callable:
        REGISTRY[name] = Benchmark(name, description, fn, imdb, tuple(key),
                                   None if columns is None else tuple(columns))
        return fn

    return add


# --- Chapter 00: the baseline every neural model is compared with ------------------------------------------


@register("tfidf_logreg", "TF-IDF uni+bigrams, logistic regression (C chosen on validation)")
def _bench_tfidf_logreg(train: Dataset, val: Dataset, test: Dataset, profile: Profile) -> dict:
    start = time.perf_counter()
    # Selection sees train and validation only; test is scored once, below.
    model, best_C, scores = baselines.select_and_fit(list(train["text"]), list(train["label"]),
                                                     list(val["text"]), list(val["label"]))
    seconds = time.perf_counter() - start
    accuracy = model.score(list(test["text"]), list(test["label"]))
    return {"test_accuracy": accuracy, "val_accuracy": scores[best_C], "train_seconds": seconds,
            "params": {"C": best_C}}


# --- Chapter 03: classifiers trained from scratch -----------------------------------------------------------


def _classifier_row(trained: training.TrainedClassifier, test: Dataset, **params) -> dict:
    """A benchmark row: test accuracy (scored once), the best epoch's validation accuracy, sizes."""
    best = classifiers.best_row(trained.history)
    sizes = {"epochs_run": len(trained.history), "best_epoch": best["epoch"], "vocab": len(trained.vocab),
             "parameters": sum(p.numel() for p in trained.model.parameters())}
    return {"test_accuracy": trained.accuracy(test), "val_accuracy": best["val_accuracy"],
            "train_seconds": trained.train_seconds, "params": sizes | params}


@register("nbow_bigram", "neural bag of uni+bigrams (fastText-style), mean-pooled embeddings, linear")
def _bench_nbow_bigram(train: Dataset, val: Dataset, test: Dataset, profile: Profile) -> dict:
    return _classifier_row(classifiers.train_nbow_bigram(train, val, profile), test)


@register("bilstm", "1-layer BiLSTM, max+mean pooling, first+last words; embeddings random "
                    "or skip-gram (frozen or fine-tuned), the best on validation")
def _bench_bilstm(train: Dataset, val: Dataset, test: Dataset, profile: Profile) -> dict:
    start = time.perf_counter()
    vocab = classifiers.bilstm_vocab(train["text"], profile)
    vectors = classifiers.pretrain_vectors(train["text"], vocab, profile.embed_dim, profile.sgns_epochs)
    pretrain_seconds = time.perf_counter() - start
    runs = {init: classifiers.train_bilstm(train, val, profile, init, None if init == "random" else vectors,
                                           vocab)
            for init in classifiers.INITIALIZATIONS}
    val_by_init = {init: round(classifiers.best_row(run.history)["val_accuracy"], 4)
                   for init, run in runs.items()}
    chosen = max(val_by_init, key=val_by_init.get)
    row = _classifier_row(runs[chosen], test, init=chosen, val_accuracy_by_init=val_by_init,
                          pretrain_seconds=round(pretrain_seconds, 1))
    # The time to train the chosen model from nothing: its skip-gram vectors included if it uses them.
    row["train_seconds"] += 0.0 if chosen == "random" else pretrain_seconds
    return row


# --- Chapters 04 and 05: sequence to sequence, with and without attention, on a generated task -------------


@register("seq2seq", "numbers in words to digits (1 to 12 digits), every model on the same pairs and epochs",
          imdb=False, key=("model",),
          columns=("model", "test_accuracy", "long_input_accuracy", "train_seconds", "n_train", "n_test",
                   "params"))
def _bench_seq2seq(profile: Profile, seed: int) -> list[dict]:
    task, rows = seq2seq.make_task(profile, seed), []
    for name, kind in (("gru", "gru"), ("gru_attention", "bahdanau"), ("transformer", "transformer")):
        start = time.perf_counter()
        model, _ = seq2seq.fit(kind, task, profile, seed=seed, progress=False)
        seconds = time.perf_counter() - start
        scored = seq2seq.score(model, task["test"])
        rows.append({"model": name, "test_accuracy": sum(r["correct"] for r in scored) / len(scored),
                     "long_input_accuracy": seq2seq.long_input_accuracy(scored), "train_seconds": seconds,
                     "n_train": len(task["train"]), "n_test": len(task["test"]),
                     "params": sum(p.numel() for p in model.parameters())})
    return rows


# --- Chapter 05: the Transformer encoder as an IMDB classifier ----------------------------------------------

@register("transformer_encoder", "Transformer encoder from scratch (pre-LN), mean+max pooling, first+last "
          "words of each review; embeddings from skip-gram, learning rate warmed up and decayed")
def _bench_transformer_encoder(train: Dataset, val: Dataset, test: Dataset, profile: Profile) -> dict:
    start = time.perf_counter()
    vocab = classifiers.bilstm_vocab(train["text"], profile)  # the words train_classifier would pick
    vectors = classifiers.pretrain_vectors(train["text"], vocab, profile.transformer_dim, profile.sgns_epochs)
    pretrain_seconds = time.perf_counter() - start
    trained = transformer.train_classifier(train, val, profile, vectors=vectors, vocab=vocab,
                                           warmup=True)
    row = _classifier_row(trained, test, init="skip-gram", pretrain_seconds=round(pretrain_seconds, 1),
                          warmup=profile.transformer_optim.warmup)
    # The time to train it from nothing: the skip-gram vectors included.
    return row | {"train_seconds": trained.train_seconds + pretrain_seconds}

# --- Chapter 06: a pre-trained encoder fine-tuned (all-MiniLM-L6-v2 offline, bert-base-uncased in `full`) --

FINETUNE_CONFIG = finetune.FinetuneConfig(epochs=1, batch_size=16, truncation="head+tail", pooling="mean")


def checkpoint_name(name: str) -> str:
    """What `name` loads, in a few words: "bert-base-uncased" (or offline "all-MiniLM-L6-v2 (for ...)")."""
    source, _ = models.resolve_checkpoint(name)
    if source == name or name == models.OFFLINE_MODEL:
        return Path(name).name
    return f"{Path(models.OFFLINE_MODEL).name} (for {name})"


@register("finetune_pretrained",
          "pre-trained encoder fine-tuned end to end: mean pooling, head+tail truncation")
def _bench_finetune_pretrained(train: Dataset, val: Dataset, test: Dataset, profile: Profile) -> dict:
    """Chapter 06's fine-tuning at the profile's sizes, scored once on a fixed, seeded sample of test."""
    settings = dataclasses.replace(FINETUNE_CONFIG, **dataclasses.asdict(profile.finetune_optim),
                                   epochs=profile.finetune_epochs, max_len=profile.bench_finetune_max_len)
    train = data.subsample(train, profile.bench_finetune_n_train, seed=0)
    val = data.subsample(val, profile.bench_finetune_n_val, seed=0)
    test = data.subsample(test, profile.bench_finetune_n_test, seed=0)
    trained = finetune.train_classifier(train, val, settings, model_name=profile.model_name)
    checkpoint = checkpoint_name(profile.model_name)
    return {"test_accuracy": trained.accuracy(test), "val_accuracy": trained.history.best["val_accuracy"],
            "train_seconds": trained.train_seconds, "n_train": len(train), "n_val": len(val),
            "n_test": len(test),
            "description": f"{checkpoint} fine-tuned {settings.epochs} epoch(s): {settings.truncation} to "
                           f"{settings.max_len} tokens, {settings.pooling} pooling, lr {settings.lr:g} "
                           "with warmup",
            "params": dataclasses.asdict(settings)
                      | {"model": models.resolve_checkpoint(profile.model_name)[1]}}


# --- Chapter 07: attention for long documents, time and memory against length -------------------------------

LONG_ATTENTION_LENGTHS = (1024, 2048, 4096, 8192)


@register("long_attention", "one attention call, forward only: batch 1, one head, dim 64, window 256",
          imdb=False, key=("pattern", "seq_len"),
          columns=("pattern", "seq_len", "window", "keys_per_query", "seconds", "peak_bytes"))
def _bench_long_attention(profile: Profile, seed: int) -> list[dict]:
    return long_attention.sweep(LONG_ATTENTION_LENGTHS, seed=seed, progress=False)


# --- Chapter 08: the sentiment pipeline, a fine-tuned transformer averaged with TF-IDF ----------------------


@register("pipeline_ensemble", "fine-tuned MiniLM (head+tail) + TF-IDF, weights chosen on validation")
def _bench_pipeline_ensemble(train: Dataset, val: Dataset, test: Dataset, profile: Profile) -> dict:
    """Chapter 08's pipeline, its transformer trained on more and longer reviews than the notebook affords."""
    profile = ensemble.predictor_profile(profile)  # the served predictor's sizes
    small_train, val, test = ensemble.pipeline_splits(train, val, test, profile)
    model = ensemble.train_transformer(small_train, val, profile)
    start = time.perf_counter()
    tfidf = ensemble.tfidf_member(train, val)  # TF-IDF is cheap: it gets all of train
    val_p = {"transformer": model.predict_proba(list(val["text"]))[:, 1].numpy(),
             "tfidf": tfidf.predict_proba(list(val["text"]))[:, 1]}
    weight, val_scores = ensemble.choose_weight(val_p["transformer"], val_p["tfidf"], val["label"])
    # A cached transformer keeps the time its training took; the rest (TF-IDF, the weight) is timed here.
    seconds = model.train_seconds + time.perf_counter() - start
    test_p = {"transformer": model.predict_proba(list(test["text"]))[:, 1].numpy(),
              "tfidf": tfidf.predict_proba(list(test["text"]))[:, 1]}
    labels = np.asarray(test["label"])
    correct = {name: (p >= 0.5) == labels for name, p in test_p.items()}
    members = {name: float(c.mean()) for name, c in correct.items()}
    mixed = (ensemble.mix(test_p["transformer"], test_p["tfidf"], weight) >= 0.5) == labels
    best = max(members, key=members.get)
    gain, low, high = intervals.paired_difference(correct[best], mixed)  # on the same test reviews
    checkpoint = checkpoint_name(profile.model_name)
    return {"test_accuracy": float(mixed.mean()), "val_accuracy": val_scores[weight],
            "n_test": len(test), "n_val": len(val), "n_train": len(train),
            "n_train_transformer": len(small_train),
            "train_seconds": seconds, "transformer_train_seconds": model.train_seconds,
            "members": members, "transformer_weight": weight, "transformer_max_len": profile.pipeline_max_len,
            "gain_over_best_member_points": 100 * gain,
            "gain_over_best_member_points_interval": (100 * low, 100 * high),
            "description": f"{checkpoint} fine-tuned on {len(small_train):,} reviews (head+tail to "
                           f"{profile.pipeline_max_len} tokens) + TF-IDF, the weight chosen on validation"}


# --- Chapter 09: the pipeline's transformer made fast on a CPU, seven ways ----------------------------------

DEPLOY_COLUMNS = ("variant", "threads", "size_bytes", "build_seconds", "latency_p50_ms", "latency_p95_ms",
                  "throughput_per_s", "throughput_ratio_vs_eager", "label_agreement", "test_accuracy",
                  "accuracy_delta_points")
DEPLOY_THREADS = (1, 2)  # a CPU service runs on one core or a few; the ranking can change between them


@register("deploy", "the pipeline's fine-tuned MiniLM (chapter 08), seven ways to run it, on 1 and 2 threads",
          key=("variant", "threads"), columns=DEPLOY_COLUMNS)
def _bench_deploy(train: Dataset, val: Dataset, test: Dataset, profile: Profile) -> list[dict]:
    sized = dataclasses.replace(profile, deploy_n_test=profile.deploy_bench_n_test)
    model, test = deploy.model_to_deploy(train, val, test, sized, progress=False)
    cpu = torch.backends.cpu.get_cpu_capability()  # the int8 kernels' instruction set: AVX2, AVX512, ...
    rows = []
    for threads in DEPLOY_THREADS:
        with tempfile.TemporaryDirectory() as folder:
            found = deploy.variants(model, folder, threads=threads, compile=profile.deploy_compile)
            measured = deploy.compare(model, found, list(test["text"]), test["label"],
                                      n_latency=profile.deploy_n_latency, threads=threads)
        rows += [row | {"n_test": len(test), "threads": threads, "cpu_capability": cpu} for row in measured]
    return rows


# --- Running and recording ----------------------------------------------------------------------------------


def _rows(result: dict | list[dict], benchmark: Benchmark) -> list[dict]:
    rows = [result] if isinstance(result, dict) else list(result)
    if not rows:
        raise ValueError(f"Benchmark {benchmark.name!r} returned no result rows.")
    needed = benchmark.key + (("test_accuracy",) if benchmark.columns is None else ())
    for row in rows:
        missing = [k for k in needed if k not in row]
        if missing:
            raise ValueError(f"Benchmark {benchmark.name!r} returned a row without its field(s) {missing}.")
    return rows


def _check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise SystemExit(f"Unknown benchmark(s) {', '.join(map(repr, unknown))}. "
                         f"Registered: {', '.join(sorted(REGISTRY))}.")


def _table_stamps(benchmark: Benchmark) -> dict:
    """What the results tables need to show a row of this benchmark (see `results`)."""
    if benchmark.columns is None:
        return {"table": results.IMDB_TABLE, "description": benchmark.description, "key": list(benchmark.key)}
    return {"table": benchmark.name, "description": benchmark.description, "key": list(benchmark.key),
            "columns": list(benchmark.columns)}


def run(name: str, imdb: str | None = None, profile_name: str | None = None, seed: int = 0) -> list[dict]:
    """Run one registered benchmark and return its result rows, each stamped with what reproduces it.

    `imdb` is the IMDB folder (default: $IMDB_DIR, the Hub, or the sample); a benchmark that brings its own
    data refuses one rather than ignore it.
    """
    _check_names([name])
    benchmark = REGISTRY[name]
    if imdb is not None and not benchmark.imdb:
        raise ValueError(f"Benchmark {name!r} brings its own data ({benchmark.description}): it cannot use "
                         f"the IMDB folder {imdb}. Run it without one.")
    profile = config.get_profile(profile_name)
    config.seed_everything(seed)
    stamp: dict = {"benchmark": name, "profile": profile.name, "seed": seed, **_table_stamps(benchmark)}
    if benchmark.imdb:
        dsd = data.load_imdb(imdb, n_train=profile.n_train, n_test=profile.n_test, seed=seed)
        train, val = data.train_val_split(dsd["train"], 0.1, seed=seed)
        result = benchmark.fn(train, val, dsd["test"], profile)
        stamp |= {"data": data.describe_source().split(":")[0], "data_fingerprint": data.fingerprint(dsd),
                  "n_train": len(train), "n_val": len(val), "n_test": len(dsd["test"])}
    else:
        result = benchmark.fn(profile, seed)
    rows = []
    for row in _rows(result, benchmark):  # the benchmark's own fields win (its model, description, n_test)
        rounded = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
        rows.append({"model": name, **stamp, **rounded, "commit": environment.git_commit(),
                     "versions": environment.versions(), "machine": environment.machine_description(),
                     "date": time.strftime("%Y-%m-%d")})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(REGISTRY)}")
    parser.add_argument("--all", action="store_true", help="run every registered benchmark")
    parser.add_argument("--imdb", help="IMDB folder (parquet or aclImdb); default $IMDB_DIR, the Hub, "
                                       "or the sample")
    parser.add_argument("--profile", choices=list(config.PROFILES),
                        help="course profile (default $COURSE_PROFILE)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", type=Path,
                        help="JSON file that keeps the latest result of each benchmark")
    parser.add_argument("--readme", type=Path,
                        help="Markdown file (RESULTS.md) whose tables are refreshed from --record; alone, "
                             "it rewrites them from the recorded results without running anything")
    args = parser.parse_args(argv)
    names = list(REGISTRY) if args.all else args.names
    if args.readme and not names:  # nothing to run: only rewrite the tables from the recorded results
        results.update_readme(args.readme, results.load_results(args.record or results.RESULTS))
        return
    if not names:
        parser.error(f"name a benchmark ({', '.join(REGISTRY)}), pass --all, or pass only --readme to "
                     "rewrite its tables")
    if args.readme and not args.record:
        parser.error("--readme needs --record (the tables are built from the recorded results)")
    _check_names(names)
    if args.readme:
        results.readme_section(args.readme.read_text())
    for name in names:
        own_data = not REGISTRY[name].imdb
        if args.imdb and own_data:
            print(f"{name} brings its own data: it does not read --imdb {args.imdb}.", file=sys.stderr)
        rows = run(name, None if own_data else args.imdb, args.profile, args.seed)
        for row in rows:
            print(json.dumps(row), flush=True)
        if args.record:
            results.record(rows, args.record, args.readme)


if __name__ == "__main__":
    main()
