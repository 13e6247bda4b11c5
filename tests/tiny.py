"""A tiny random BERT classifier with the offline model's tokenizer: real code paths, seconds to run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from helpers import finetune, models


def tiny_encoder(attn_implementation: str = "eager", seed: int = 0):
    """(tokenizer, encoder): 2 layers, 2 heads, width 32, no dropout (so runs repeat exactly)."""
    tokenizer = AutoTokenizer.from_pretrained(models.offline_model_path())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    return tokenizer, BertModel._from_config(config, attn_implementation=attn_implementation).eval()


def tiny_finetuned(max_len: int = 32, seed: int = 0) -> finetune.FineTuned:
    """An untrained FineTuned classifier on the tiny encoder, head+tail truncation to max_len."""
    tokenizer, encoder = tiny_encoder(seed=seed)
    config = finetune.FinetuneConfig(max_len=max_len, dropout=0.0, seed=seed)
    torch.manual_seed(seed)
    model = finetune.SentimentClassifier(encoder, 2, config.pooling, config.dropout).eval()
    return finetune.FineTuned(model, tokenizer, config, finetune.History(), 0.0, "tiny")


# A second process loads what `folder` holds, changes every weight, saves it back and stops at `stage`:
# "writing" (the new weights and tokenizer are written, the rest not yet) or "swapping" (the old folder
# has just been moved aside, the new one is not in place yet). `kill_a_save` kills it there with SIGKILL.
SAVER = """
import os, sys, time
from pathlib import Path
import torch
from helpers import finetune
from helpers.sentiment import SentimentPredictor

directory, stage, kind = sys.argv[1:]
saved = SentimentPredictor.load(directory) if kind == "predictor" else finetune.load(directory)
classifier = saved.classifier if kind == "predictor" else saved
with torch.no_grad():
    for weight in classifier.model.parameters():
        weight.add_(1.0)  # a visibly different model


def pause():
    print("paused", flush=True)
    time.sleep(600)


if stage == "writing":
    save_tokenizer = classifier.tokenizer.save_pretrained
    classifier.tokenizer.save_pretrained = lambda *args, **kwargs: (save_tokenizer(*args, **kwargs), pause())
else:
    replace = os.replace
    def replace_then_pause(source, target):
        replace(source, target)
        if Path(source) == Path(directory):
            pause()
    os.replace = replace_then_pause
saved.save(directory)
"""


def kill_a_save(folder: Path, stage: str, kind: str) -> int:
    """Run SAVER on `folder` ("classifier" or "predictor"), SIGKILL it at `stage`; its return code."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(folder), stage, kind], stdout=subprocess.PIPE,
                             text=True, env=env, cwd=folder.parent)
    try:
        assert saver.stdout.readline().strip() == "paused", "the saver never reached the point to kill it at"
        saver.send_signal(signal.SIGKILL)
        saver.wait(timeout=30)
    finally:
        saver.kill()
        saver.stdout.close()
    return saver.returncode
