"""Fine-tune a sentiment predictor from the command line, on one process or several.

    python -m helpers.train_sentiment --profile cpu --out models/imdb
    torchrun --nproc_per_node=2 -m helpers.train_sentiment --profile smoke --out models/imdb

It uses Hugging Face's `Trainer`, which wraps the model in DistributedDataParallel when `torchrun` starts it:
each process trains on its share of every batch (gloo on CPU, nccl on GPU) and the gradients are averaged.
`--batch-size` is per process, so N processes take N times larger steps; the summary line says so.
The model is chapter 06's `finetune.SentimentClassifier`, tokenized and truncated exactly as `finetune` does,
and the Trainer gets chapter 06's settings (`finetune.training_arguments`) plus what several processes need;
rank 0 writes it as a `SentimentPredictor` folder (see helpers.sentiment) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from typing import NoReturn

import torch
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments
from transformers.utils import logging as hf_logging

from helpers import config, data, ensemble, finetune, storage, training
from helpers.sentiment import SentimentPredictor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m helpers.train_sentiment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to save the predictor to: new, empty, or a "
                        "predictor the course saved (replaced atomically; any other folder is refused)")
    parser.add_argument("--profile", choices=list(config.PROFILES),
                        help="course profile (default $COURSE_PROFILE)")
    parser.add_argument("--model", help="checkpoint name or folder (default: the profile's model_name)")
    parser.add_argument("--imdb", help="IMDB folder (default $IMDB_DIR, the Hub, or the bundled sample)")
    parser.add_argument("--n-train", type=int,
                        help="training reviews (default: the profile's predictor_n_train)")
    parser.add_argument("--n-val", type=int, help="validation reviews scored at the end (default: all)")
    parser.add_argument("--max-len", type=int,
                        help="tokens per review, head+tail (default: predictor_max_len)")
    parser.add_argument("--epochs", type=float,
                        help="passes over the training reviews (default: finetune_epochs)")
    parser.add_argument("--batch-size", type=int, help="reviews per step on each process (default: 08's, 16)")
    parser.add_argument("--lr", type=float, help="peak learning rate (default: profile.finetune_optim.lr)")
    parser.add_argument("--warmup", type=float, default=0.1, help="share of the steps spent warming up")
    parser.add_argument("--dropout", type=float, default=0.1, help="dropout before the classification head")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logging-steps", type=int, default=50)
    args = parser.parse_args(argv)

    def refuse(message: str) -> NoReturn:  # one line, before anything is loaded or trained
        parser.exit(2, f"{parser.prog}: error: {message}\n")

    for name in ("n_train", "n_val", "max_len", "batch_size", "logging_steps", "epochs", "lr"):
        value = getattr(args, name)
        if value is not None and not 0 < value < math.inf:
            refuse(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    if args.max_len is not None and args.max_len < 3:
        refuse(f"--max-len must be at least 3 ([CLS], one token, [SEP]), got {args.max_len}")
    for name in ("warmup", "dropout"):
        if not 0 <= getattr(args, name) < 1:
            refuse(f"--{name} is a fraction: 0 <= {name} < 1, got {getattr(args, name)}")
    if not 0 <= args.seed < 2**32:
        refuse(f"--seed must be between 0 and 2**32 - 1, got {args.seed}")
    try:
        finetune.check_save_path(args.out)
    except storage.RefusedPath as error:
        refuse(f"--out: {error}")
    return args


def training_arguments(settings: finetune.FinetuneConfig, epochs: float, output_dir: str,
                       logging_steps: int) -> TrainingArguments:
    """Chapter 06's `finetune.training_arguments` for `settings`, and what one process among several needs.

    Under torchrun the Trainer finds the other processes through the environment.
    """
    cuda = torch.cuda.is_available()
    distributed = int(os.environ.get("WORLD_SIZE", 1)) > 1  # set by torchrun
    # A T4 reports bf16 "supported" but emulates it: choose_precision picks fp16 there.
    precision = training.choose_precision(config.get_device())
    return finetune.training_arguments(
        dataclasses.replace(settings, precision=precision), output_dir, logging_steps,
        num_train_epochs=epochs,  # --epochs may be a fraction
        data_seed=settings.seed, use_cpu=not cuda,  # the batch order follows --seed alone, on every process
        ddp_backend=("nccl" if cuda else "gloo") if distributed else None, ddp_find_unused_parameters=False,
        # The predictor's recipe: batches in random order (not grouped by length), validation scored once
        # at the end.
        train_sampling_strategy="random", eval_strategy="no",
        # The Trainer's default (True) multiplies the loss by the number of processes, to undo a division by
        # the tokens of all processes that token-level losses make. A classifier's loss is a plain mean per
        # process: with a model whose forward takes **kwargs (BertForSequenceClassification) the default
        # doubled the loss and gradients on 2 processes (1.386 instead of 0.693). False matches one process
        # whatever the model.
        average_tokens_across_devices=False,
    )


def recipe(args: argparse.Namespace, profile: config.Profile) -> finetune.FinetuneConfig:
    """Chapter 08's settings for the pipeline's transformer (`ensemble.pipeline_config`), with the
    command line's choices over them."""
    chosen = {"lr": args.lr, "batch_size": args.batch_size, "max_len": args.max_len,
              "epochs": None if args.epochs is None else max(1, round(args.epochs))}
    return dataclasses.replace(ensemble.pipeline_config(profile), warmup=args.warmup, dropout=args.dropout,
                               seed=args.seed, **{k: v for k, v in chosen.items() if v is not None})


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    profile = ensemble.predictor_profile(config.get_profile(args.profile))  # its sizes, 08's recipe
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    config.seed_everything(args.seed)
    n_train = args.n_train or profile.pipeline_n_train
    settings = recipe(args, profile)
    max_len, epochs = settings.max_len, args.epochs if args.epochs is not None else settings.epochs
    dsd = data.load_imdb(args.imdb, seed=args.seed)  # test stays untouched: selection is on validation
    train, val = data.train_val_split(dsd["train"], 0.1, seed=args.seed)
    train, val = data.subsample(train, n_train, args.seed), data.subsample(val, args.n_val, args.seed)
    model_name = args.model or profile.model_name
    tokenizer, model = finetune.build_classifier(model_name, settings, verbose=rank == 0)
    classifier = finetune.FineTuned(model, tokenizer, settings, finetune.History(), 0.0, model_name)
    # The head reads the last hidden states, not BERT's pooler; DDP refuses trainable parameters that get no
    # gradient, so the pooler is frozen (it stays in the checkpoint, unchanged).
    if getattr(model.encoder, "pooler", None) is not None:
        model.encoder.pooler.requires_grad_(False)
    hf_logging.set_verbosity_error()  # the Trainer's start-up notes; the summary line below says what ran
    with tempfile.TemporaryDirectory() as scratch:
        trainer = Trainer(model=finetune.WithLoss(model),
                          args=training_arguments(settings, epochs, scratch, args.logging_steps),
                          train_dataset=finetune.trainer_dataset(classifier, train),
                          eval_dataset=finetune.trainer_dataset(classifier, val),
                          data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=finetune.accuracy)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        scores = trainer.evaluate()
    losses = [row for row in trainer.state.log_history if "loss" in row]
    summary = {"out": str(args.out), "processes": world,
               "backend": trainer.args.ddp_backend if world > 1 else None,
               "n_train": len(train), "n_val": len(val), "max_len": max_len, "epochs": epochs,
               "global_batch": settings.batch_size * world, "steps": trainer.state.global_step,
               "train_seconds": round(seconds, 1), "val_accuracy": scores["eval_accuracy"],
               "val_loss": scores["eval_loss"],
               "losses": [{"step": r["step"], "loss": r["loss"], "grad_norm": r.get("grad_norm")}
                          for r in losses]}
    if rank == 0:
        classifier.model = trainer.accelerator.unwrap_model(trainer.model).model.eval()
        classifier.train_seconds = seconds
        SentimentPredictor(classifier).save(args.out)
        print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
