"""Training entry point on one process and under torchrun with two (gloo on CPU): same losses, same model."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import config, ensemble, train_sentiment
from helpers.sentiment import SentimentPredictor
from tiny import tiny_encoder, tiny_finetuned

ROOT = Path(__file__).resolve().parents[1]
# Four reviews, two epochs, a global batch of four: every step sees all four reviews on one process or two,
# so the logged loss and gradient norm must be the same whatever the number of processes.
SMOKE = ["--profile", "smoke", "--n-train", "4", "--n-val", "4", "--epochs", "2", "--logging-steps", "1",
         "--max-len", "32", "--warmup", "0", "--lr", "1e-3", "--dropout", "0"]


def _train(tmp_path: Path, model: Path, processes: int) -> dict:
    out = tmp_path / f"out{processes}"
    launcher = ["-m", "torch.distributed.run", f"--nproc_per_node={processes}"] if processes > 1 else []
    command = [sys.executable, *launcher, "-m", "helpers.train_sentiment", *SMOKE, "--model", str(model),
               "--batch-size", str(4 // processes), "--out", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(next(line for line in reversed(result.stdout.splitlines())
                           if line.startswith("{\"out\"")))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("train")
    tokenizer, model = tiny_encoder()
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    return {n: _train(tmp_path, tmp_path / "tiny", n) for n in (1, 2)}


@pytest.mark.slow
def test_two_processes_train_with_gloo_on_half_batches(runs):
    one, two = runs[1], runs[2]
    assert (one["processes"], two["processes"], two["backend"]) == (1, 2, "gloo")
    assert one["global_batch"] == two["global_batch"] == 4 and one["steps"] == two["steps"] == 2


@pytest.mark.slow
def test_the_loss_under_ddp_matches_one_process(runs):
    # With BertForSequenceClassification the Trainer's default average_tokens_across_devices=True logged 1.386
    # on two processes, twice ln 2; the entry point must log what one process logs.
    one, two = runs[1]["losses"], runs[2]["losses"]
    assert one[0]["loss"] == pytest.approx(np.log(2), abs=0.15)  # an untrained binary classifier
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-3)
    assert runs[2]["val_loss"] == pytest.approx(runs[1]["val_loss"], rel=1e-4)


@pytest.mark.slow
def test_both_runs_save_the_same_predictor(runs):
    texts = ["A joy from start to finish.", "Two hours I will never get back."]
    one = SentimentPredictor.load(runs[1]["out"])
    two = SentimentPredictor.load(runs[2]["out"])
    assert one.max_len == two.max_len == 32
    np.testing.assert_allclose(one.predict_proba(texts), two.predict_proba(texts), atol=1e-5)


@pytest.mark.parametrize("flag", ["--n-train", "--batch-size", "--max-len"])
def test_sizes_must_be_positive(flag, capsys):
    with pytest.raises(SystemExit):
        train_sentiment.parse_args(["--out", "x", flag, "0"])
    assert "must be a positive number" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, message", [
    ("--epochs", "0", "--epochs must be a positive number, got 0.0"),
    ("--epochs", "-1", "--epochs must be a positive number, got -1.0"),
    ("--epochs", "nan", "--epochs must be a positive number"),
    ("--lr", "0", "--lr must be a positive number"),
    ("--lr", "inf", "--lr must be a positive number"),
    ("--max-len", "2", "--max-len must be at least 3"),
    ("--warmup", "1.5", "--warmup is a fraction"),
    ("--dropout", "-0.1", "--dropout is a fraction"),
    ("--seed", "-1", "--seed must be between 0 and 2\\*\\*32 - 1"),
])
def test_numbers_out_of_range_are_refused(flag, value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        train_sentiment.parse_args(["--out", str(tmp_path / "model"), flag, value])
    assert exit.value.code == 2 and re.search(message, capsys.readouterr().err)


def users_folder(tmp_path: Path) -> Path:
    """A folder of the user's: a thesis, data in a subfolder, an old model of their own."""
    folder = tmp_path / "work"
    (folder / "sub").mkdir(parents=True)
    (folder / "old_model").mkdir()
    (folder / "thesis.txt").write_text("three years of work")
    (folder / "sub" / "data.csv").write_text("text,label\n")
    (folder / "old_model" / "weights.bin").write_bytes(b"\0" * 8)
    return folder


def contents(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("out, message", [
    ("work", r"work holds files the course did not write \(old_model, sub, thesis.txt\)"),
    ("work/thesis.txt", "thesis.txt is a file, not a folder"),
    ("", "path is empty"),
    ("/proc/model", "/proc cannot be written to"),
    ("work/thesis.txt/model", "thesis.txt is a file, not a folder"),
])
def test_an_out_folder_that_is_not_the_courses_is_refused_before_training(out, message, tmp_path, monkeypatch,
                                                                          capsys):
    folder = users_folder(tmp_path)
    before = contents(folder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train_sentiment.data, "load_imdb", lambda *a, **k: pytest.fail("loaded the data"))
    monkeypatch.setattr(train_sentiment.finetune, "build_classifier",
                        lambda *a, **k: pytest.fail("built a model"))
    with pytest.raises(SystemExit) as exit:
        train_sentiment.main(["--out", out, "--profile", "smoke"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and re.search(message, err) and len(err.strip().splitlines()) == 1
    assert contents(folder) == before


def test_an_out_folder_the_course_saved_new_or_empty_is_accepted(tmp_path):
    folder = SentimentPredictor(tiny_finetuned()).save(tmp_path / "saved")
    (tmp_path / "empty").mkdir()
    for out in (folder, tmp_path / "empty", tmp_path / "new" / "model"):
        assert train_sentiment.parse_args(["--out", str(out)]).out == str(out)


def test_the_command_refuses_a_users_folder_in_one_line_and_keeps_it(tmp_path):
    folder = users_folder(tmp_path)
    before = contents(folder)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "helpers.train_sentiment", "--profile", "smoke", "--model",
                             str(tmp_path / "no-such-model"), "--out", str(folder)],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "holds files the course did not write" in result.stderr and contents(folder) == before


def test_the_command_trains_chapter_08s_recipe_unless_told_otherwise(tmp_path):
    profile = ensemble.predictor_profile(config.get_profile("cpu"))
    args = train_sentiment.parse_args(["--out", str(tmp_path / "model"), "--profile", "cpu"])
    assert train_sentiment.recipe(args, profile) == ensemble.pipeline_config(profile)
    args = train_sentiment.parse_args(["--out", str(tmp_path / "model"), "--lr", "2e-5", "--max-len", "64"])
    chosen = train_sentiment.recipe(args, profile)
    assert (chosen.lr, chosen.max_len, chosen.pooling) == (2e-5, 64, "mean")


class Stopped(Exception):
    """Raised by the stand-in Trainer once it has seen its arguments: nothing is trained."""


def trainer_arguments(argv: list[str], tmp_path: Path, monkeypatch):
    """The TrainingArguments `main` hands the Trainer for `argv` on a CPU (a tiny model; nothing trains)."""
    seen = {}

    def trainer(*, args, **kwargs):
        seen["args"] = args
        raise Stopped

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the values below are a CPU's
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(train_sentiment, "Trainer", trainer)
    tiny = tiny_finetuned()
    monkeypatch.setattr(train_sentiment.finetune, "build_classifier",
                        lambda *a, **k: (tiny.tokenizer, tiny.model))
    with pytest.raises(Stopped):
        train_sentiment.main([*argv, "--n-train", "8", "--n-val", "4", "--out", str(tmp_path / "model")])
    return seen["args"]


# Recorded from the command before it took chapter 06's finetune.training_arguments (issue 22): sharing the
# settings must leave the served predictor's training as it was.
BEFORE = {"learning_rate": 1e-3, "lr_scheduler_type": "linear", "warmup_steps": 0.0, "weight_decay": 0.01,
          "max_grad_norm": 1.0, "per_device_train_batch_size": 2, "per_device_eval_batch_size": 64,
          "num_train_epochs": 2.0, "gradient_accumulation_steps": 1, "seed": 0, "data_seed": 0, "bf16": False,
          "fp16": False, "use_cpu": True, "train_sampling_strategy": "random", "eval_strategy": "no",
          "logging_steps": 1, "ddp_backend": None, "ddp_find_unused_parameters": False,
          "average_tokens_across_devices": False}


@pytest.mark.parametrize("argv, recorded", [
    (SMOKE + ["--batch-size", "2"], BEFORE),
    (["--profile", "smoke", "--epochs", "1.5", "--seed", "3", "--warmup", "0.2"],
     {**BEFORE, "learning_rate": 1e-4, "warmup_steps": 0.2, "per_device_train_batch_size": 16,
      "num_train_epochs": 1.5, "seed": 3, "data_seed": 3, "logging_steps": 50}),
])
def test_the_trainer_gets_the_settings_the_command_always_gave_it(argv, recorded, tmp_path, monkeypatch):
    args = trainer_arguments(argv, tmp_path, monkeypatch)
    assert {name: getattr(args, name) for name in recorded} == recorded


def test_the_command_trains_the_predictors_sizes_not_the_notebooks(tmp_path, monkeypatch):
    seen = {}

    def build_classifier(model_name, settings, **kwargs):
        seen["max_len"] = settings.max_len
        raise Stopped

    real_subsample = train_sentiment.data.subsample

    def subsample(dataset, n, seed=0):
        seen.setdefault("sizes", []).append(n)
        return real_subsample(dataset, n, seed)

    monkeypatch.setattr(train_sentiment.finetune, "build_classifier", build_classifier)
    monkeypatch.setattr(train_sentiment.data, "subsample", subsample)
    with pytest.raises(Stopped):
        train_sentiment.main(["--profile", "smoke", "--out", str(tmp_path / "model")])
    smoke = config.get_profile("smoke")
    assert smoke.predictor_n_train in seen["sizes"] and seen["max_len"] == smoke.predictor_max_len
    assert smoke.pipeline_n_train not in seen["sizes"] and smoke.pipeline_max_len != smoke.predictor_max_len
