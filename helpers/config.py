"""Profiles, seeding and device choice: the settings every notebook and benchmark reads."""

from __future__ import annotations

import dataclasses
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

PROFILE_VARIABLE = "COURSE_PROFILE"


@dataclass(frozen=True)
class OptimizerSettings:
    """How one model trains: AdamW's peak learning rate and weight decay, gradient clipping, warmup.

    >>> OptimizerSettings(lr=2e-3, clip_norm=5.0)
    OptimizerSettings(lr=0.002, weight_decay=0.0, clip_norm=5.0, warmup=None)
    """

    lr: float
    weight_decay: float = 0.0
    clip_norm: float | None = None  # the gradient's global norm is clipped to this; None: no clipping
    warmup: float | int | None = None  # a fraction of all updates (float) or a number of them (int)

    def __post_init__(self) -> None:
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(f"lr must be positive and weight_decay at least 0, got {self}.")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ValueError(f"clip_norm must be positive or None, got {self.clip_norm!r}.")
        if isinstance(self.warmup, float) and not 0 <= self.warmup < 1 or isinstance(self.warmup, int) \
                and self.warmup < 0:
            raise ValueError(f"warmup is a fraction, 0 <= warmup < 1, or a count of updates, "
                             f"got {self.warmup!r}.")

    def __str__(self) -> str:
        """Only what is set, for the profile table: "lr 0.002, clip 5"."""
        parts = [f"lr {self.lr:g}", self.weight_decay and f"decay {self.weight_decay:g}",
                 self.clip_norm and f"clip {self.clip_norm:g}", self.warmup and f"warmup {self.warmup:g}"]
        return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class Profile:
    """Every size and optimizer setting a notebook or benchmark uses; notebooks read these instead of
    hard-coding numbers. Each model that trains has its `*_optim` (OptimizerSettings) in its chapter."""

    name: str
    description: str
    n_train: int | None  # training reviews (None: the whole split)
    n_test: int | None  # test reviews (None: the whole split)
    max_len: int  # tokens kept per review by neural models
    epochs: int  # passes over the training data for neural models
    batch_size: int
    vocab_size: int  # word and subword vocabularies
    bpe_merges: int  # merges learned by the from-scratch BPE
    embed_dim: int
    hidden_dim: int
    w2v_epochs: int  # skip-gram passes over the corpus
    # 02 word embeddings
    embedding_reviews: int | None  # training reviews the embeddings learn from (None: all of them)
    glove_epochs: int  # GloVe passes over the co-occurrence cells (cpu: until its loss is flat)
    fasttext_tokens: int | None  # corpus tokens the subword skip-gram reads, once (None: all of them)
    model_name: str  # pre-trained checkpoint for the Transformer chapters
    finetune_epochs: int
    # 01 · tokenization
    tokenizer_reviews: int | None  # training reviews the from-scratch WordPiece and Unigram trainers read
    tokenizer_vocab_size: int  # their vocabulary size (and the reference trainers', to compare)
    # 03 · recurrent networks (the classifiers and the language model)
    nbow_epochs: int  # the bag of n-grams: passes over the training data
    nbow_batch_size: int
    ngram_max_len: int | None  # words of each review the bag of n-grams reads (None: all of them)
    ngram_vocab_size: int  # uni+bigram features the bag of n-grams keeps, most frequent first
    nbow_optim: OptimizerSettings
    bilstm_epochs: int
    bilstm_optim: OptimizerSettings
    sgns_epochs: int  # skip-gram passes that pretrain the BiLSTM's embeddings
    compare_n_train: int | None  # training reviews for 03's comparison of embedding initializations
    compare_epochs: int  # BiLSTM passes in that comparison
    lm_n_train: int | None  # training reviews the language model reads
    lm_n_val: int | None  # validation reviews its held-out perplexity is measured on
    lm_vocab_size: int
    lm_bptt: int  # steps per window of truncated back-propagation through time
    lm_epochs: int
    lm_optim: OptimizerSettings
    # 04 sequence to sequence: the generated numbers-in-words task and its GRU encoder-decoders
    seq2seq_train: int  # training pairs; validation and test get a quarter as many each
    seq2seq_epochs: int  # the same budget for every model compared
    seq2seq_hidden: int  # GRU size per direction (embeddings are half as wide)
    beam_pairs: int  # test pairs decoded one at a time by beam search
    seq2seq_optim: OptimizerSettings  # the GRU encoder-decoders, with and without attention
    seq2seq_transformer_optim: OptimizerSettings  # 05's encoder-decoder on the same task
    # 05 Transformer: the encoder-decoder on chapter 04's task, the IMDB encoder, the attention cost sweep
    transformer_dim: int
    transformer_heads: int
    transformer_layers: int
    transformer_epochs: int  # IMDB classifier
    transformer_n_train: int | None  # IMDB reviews the notebook's encoder learns from (None: all of train)
    transformer_n_test: int | None  # IMDB test reviews it is scored on (None: all)
    transformer_optim: OptimizerSettings  # its warmup: with skip-gram embeddings only (train_classifier)
    stability_layers: int  # layers per stack of the post-LN / pre-LN warmup comparison
    stability_steps: int  # updates per run of that comparison
    attention_cost_lengths: tuple[int, ...]  # sequence lengths of the attention cost sweep (05)
    # 06 pre-trained models and fine-tuning
    pretrain_sizes: tuple[int, ...]  # labelled reviews per point of the from-scratch vs pre-trained curves
    pretrain_max_len: int  # WordPiece tokens per review on those curves
    pretrain_epochs: int  # passes over each point's reviews
    pretrain_batch_size: int  # reviews per step: small, so that a few dozen reviews make a few dozen steps
    lm_reviews: int  # reviews the tiny masked and causal LMs pre-train on
    pretrain_vocab_size: int  # their WordPiece vocabulary, learned from those reviews
    lm_block_size: int  # tokens per pre-training block
    lm_steps: int  # optimizer steps of each tiny LM
    tiny_lm_optim: OptimizerSettings  # their pre-training (warmup: a fraction of lm_steps)
    finetune_n_train: int | None  # reviews each fine-tuning comparison trains on (None: all)
    finetune_n_val: int | None  # validation reviews that compare them (None: all)
    finetune_n_test: int | None  # test reviews that score the chosen model once (None: all)
    finetune_max_len: int  # WordPiece tokens per review in those runs, [CLS] and [SEP] included
    finetune_optim: OptimizerSettings  # fine-tuning `model_name` (06 to 09 and the benchmark)
    bench_finetune_n_train: int | None  # finetune_pretrained benchmark: training reviews
    bench_finetune_n_val: int | None  # its validation reviews
    bench_finetune_n_test: int | None  # its fixed, seeded sample of test reviews
    bench_finetune_max_len: int  # its tokens per review
    # 07
    attention_lengths: tuple[int, ...]  # sequence lengths of the attention time and memory sweep
    xl_steps: int  # training steps of the small Transformer-XL
    long_n_train: int  # reviews that fine-tune the classifier whose truncations are compared
    long_max_len: int  # tokens that classifier reads ([CLS] and [SEP] included): what truncation cuts to
    long_n_eval: int  # long validation reviews and long test reviews each way of reading is scored on
    long_read_len: int  # tokens the Longformer version of the classifier reads
    # 08 · the sentiment pipeline
    pipeline_n_train: int | None  # reviews the pipeline's transformer is fine-tuned on (None: all of train)
    pipeline_max_len: int  # its tokens per review, head+tail
    pipeline_n_eval: int | None  # validation and test reviews it is scored on (fixed, seeded; None: all)
    pipeline_n_shown: int | None  # of those, the first n the notebook scores (None: all; the benchmark: all)
    predictor_n_train: int | None  # the served predictor's transformer (train_sentiment, the benchmark)
    predictor_max_len: int  # and its tokens: more and longer reviews than the notebook affords
    ablation_n_train: int  # reviews per run of the ablation table (each switch trains the model once)
    ablation_max_len: int
    # 09 · deployment
    deploy_n_train: int | None  # reviews its model fine-tunes on (08's recipe; 08's size where affordable)
    deploy_n_test: int  # test reviews each variant predicts (throughput and accuracy), from 08's test set
    deploy_n_latency: int  # single reviews timed for the latency percentiles
    deploy_bench_n_test: int  # the benchmark's test reviews: enough to tell 99% agreement from 97%
    deploy_compile: bool  # measure torch.compile too (compiling MiniLM takes a minute or more on a CPU)


# The settings every profile trains with (full fine-tunes a larger model, at a smaller rate). Weight decay
# 0.01 is AdamW's default, which these trainers always used: the optimizer the results were made with.
NBOW_OPTIM = OptimizerSettings(lr=1e-2)
BILSTM_OPTIM = OptimizerSettings(lr=2e-3, clip_norm=5.0)
LM_OPTIM = OptimizerSettings(lr=2e-3, weight_decay=0.01, clip_norm=1.0)
SEQ2SEQ_OPTIM = OptimizerSettings(lr=3e-3, weight_decay=0.01, clip_norm=1.0)
SEQ2SEQ_TRANSFORMER_OPTIM = OptimizerSettings(lr=3e-3, weight_decay=0.01, clip_norm=1.0, warmup=200)
TRANSFORMER_OPTIM = OptimizerSettings(lr=1e-3, weight_decay=0.01, clip_norm=1.0, warmup=0.05)  # RESULTS.md
TINY_LM_OPTIM = OptimizerSettings(lr=1e-3, weight_decay=0.01, clip_norm=1.0, warmup=0.05)
FINETUNE_OPTIM = OptimizerSettings(lr=1e-4, weight_decay=0.01, clip_norm=1.0, warmup=0.1)  # MiniLM

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="CI: tiny data, one epoch; every notebook in a few minutes on 2 cores. "
                    "Numbers are not meaningful.",
        n_train=240, n_test=80, max_len=128, epochs=1, batch_size=32, vocab_size=2_000, bpe_merges=200,
        embed_dim=32, hidden_dim=32, w2v_epochs=1,
        embedding_reviews=None, glove_epochs=5, fasttext_tokens=20_000,
        model_name="sentence-transformers/all-MiniLM-L6-v2", finetune_epochs=1,
        tokenizer_reviews=100, tokenizer_vocab_size=600,
        # 03
        nbow_epochs=1, nbow_batch_size=64, ngram_max_len=None, ngram_vocab_size=5_000,
        nbow_optim=NBOW_OPTIM, bilstm_epochs=1, bilstm_optim=BILSTM_OPTIM,
        sgns_epochs=1, compare_n_train=120, compare_epochs=1,
        lm_n_train=120, lm_n_val=None, lm_vocab_size=1_000, lm_bptt=16, lm_epochs=1, lm_optim=LM_OPTIM,
        seq2seq_train=800, seq2seq_epochs=2, seq2seq_hidden=32, beam_pairs=40,
        seq2seq_optim=SEQ2SEQ_OPTIM,
        seq2seq_transformer_optim=SEQ2SEQ_TRANSFORMER_OPTIM,
        transformer_dim=32, transformer_heads=2, transformer_layers=1, transformer_epochs=1,
        transformer_n_train=240, transformer_n_test=80,
        transformer_optim=TRANSFORMER_OPTIM, stability_layers=2, stability_steps=20,
        attention_cost_lengths=(64, 128, 256),
        # 06
        pretrain_sizes=(16, 32), pretrain_max_len=32, pretrain_epochs=1, pretrain_batch_size=8,
        lm_reviews=120,
        pretrain_vocab_size=600, lm_block_size=32, lm_steps=15,
        tiny_lm_optim=TINY_LM_OPTIM, finetune_n_train=32, finetune_n_val=24,
        finetune_n_test=40, finetune_max_len=32, finetune_optim=FINETUNE_OPTIM, bench_finetune_n_train=64,
        bench_finetune_n_val=40, bench_finetune_n_test=80, bench_finetune_max_len=64,
        # 07
        attention_lengths=(256, 512, 1024), xl_steps=25, long_n_train=64, long_max_len=128, long_n_eval=16,
        long_read_len=512,
        # 08
        pipeline_n_train=64, pipeline_max_len=48, pipeline_n_eval=80, pipeline_n_shown=None,
        predictor_n_train=96, predictor_max_len=64,
        ablation_n_train=32, ablation_max_len=24,
        # 09
        deploy_n_train=64, deploy_n_test=64, deploy_n_latency=10,
        deploy_bench_n_test=128, deploy_compile=False,
    ),
    "cpu": Profile(
        name="cpu",
        description="A laptop without a GPU: each notebook in about 15 minutes (30 at most) on 2 cores, "
                    "results worth reading.",
        n_train=None, n_test=None, max_len=256, epochs=3, batch_size=64, vocab_size=25_000, bpe_merges=2_000,
        embed_dim=100, hidden_dim=128, w2v_epochs=5,
        embedding_reviews=4_000, glove_epochs=20, fasttext_tokens=200_000,
        model_name="sentence-transformers/all-MiniLM-L6-v2", finetune_epochs=1,
        tokenizer_reviews=2_000, tokenizer_vocab_size=8_000,
        # 03
        nbow_epochs=3, nbow_batch_size=128, ngram_max_len=None, ngram_vocab_size=300_000,
        nbow_optim=NBOW_OPTIM, bilstm_epochs=2, bilstm_optim=BILSTM_OPTIM,
        sgns_epochs=1, compare_n_train=2_500, compare_epochs=2,
        lm_n_train=2_000, lm_n_val=500, lm_vocab_size=10_000, lm_bptt=35, lm_epochs=1, lm_optim=LM_OPTIM,
        seq2seq_train=8_000, seq2seq_epochs=8, seq2seq_hidden=64, beam_pairs=200,
        seq2seq_optim=SEQ2SEQ_OPTIM,
        seq2seq_transformer_optim=SEQ2SEQ_TRANSFORMER_OPTIM,
        transformer_dim=64, transformer_heads=4, transformer_layers=2, transformer_epochs=3,
        transformer_n_train=3_000, transformer_n_test=1_000,
        transformer_optim=TRANSFORMER_OPTIM, stability_layers=6, stability_steps=150,
        attention_cost_lengths=(256, 512, 1024, 2048, 4096),
        # 06
        pretrain_sizes=(24, 64, 200), pretrain_max_len=256, pretrain_epochs=3, pretrain_batch_size=8,
        lm_reviews=1_000,
        pretrain_vocab_size=3_000, lm_block_size=64, lm_steps=200,
        tiny_lm_optim=TINY_LM_OPTIM, finetune_n_train=960,
        finetune_n_val=200, finetune_n_test=600, finetune_max_len=64, finetune_optim=FINETUNE_OPTIM,
        bench_finetune_n_train=6_000, bench_finetune_n_val=1_000, bench_finetune_n_test=5_000,
        bench_finetune_max_len=192,
        # 07
        attention_lengths=(512, 1024, 2048, 4096, 8192), xl_steps=200, long_n_train=2_000, long_max_len=128,
        long_n_eval=200, long_read_len=1_024,
        # 08
        pipeline_n_train=2_000, pipeline_max_len=128, pipeline_n_eval=2_000, pipeline_n_shown=1_000,
        predictor_n_train=6_000, predictor_max_len=192,
        ablation_n_train=128, ablation_max_len=48,
        # 09
        deploy_n_train=1_000, deploy_n_test=300, deploy_n_latency=40,
        deploy_bench_n_test=1_000, deploy_compile=True,
    ),
    "full": Profile(
        name="full",
        description="A GPU (Colab): full IMDB, longer sequences, bert-base-uncased; the real thing.",
        n_train=None, n_test=None, max_len=512, epochs=5, batch_size=64, vocab_size=30_000, bpe_merges=8_000,
        embed_dim=128, hidden_dim=256, w2v_epochs=5,
        embedding_reviews=None, glove_epochs=50, fasttext_tokens=None,
        model_name="bert-base-uncased", finetune_epochs=3,
        tokenizer_reviews=10_000, tokenizer_vocab_size=16_000,
        # 03
        nbow_epochs=5, nbow_batch_size=128, ngram_max_len=None, ngram_vocab_size=1_000_000,
        nbow_optim=NBOW_OPTIM, bilstm_epochs=6, bilstm_optim=BILSTM_OPTIM,
        sgns_epochs=3, compare_n_train=None, compare_epochs=6,
        lm_n_train=None, lm_n_val=None, lm_vocab_size=30_000, lm_bptt=70, lm_epochs=3, lm_optim=LM_OPTIM,
        seq2seq_train=20_000, seq2seq_epochs=15, seq2seq_hidden=128, beam_pairs=2_000,
        seq2seq_optim=SEQ2SEQ_OPTIM,
        seq2seq_transformer_optim=SEQ2SEQ_TRANSFORMER_OPTIM,
        transformer_dim=128, transformer_heads=4, transformer_layers=4, transformer_epochs=8,
        transformer_n_train=None, transformer_n_test=None,
        transformer_optim=TRANSFORMER_OPTIM, stability_layers=6, stability_steps=1_000,
        attention_cost_lengths=(256, 512, 1024, 2048, 4096, 8192),
        # 06
        pretrain_sizes=(100, 300, 1_000, 3_000, 10_000), pretrain_max_len=256, pretrain_epochs=3,
        pretrain_batch_size=16,
        lm_reviews=25_000, pretrain_vocab_size=8_000, lm_block_size=128, lm_steps=5_000,
        tiny_lm_optim=TINY_LM_OPTIM,
        finetune_n_train=None, finetune_n_val=None, finetune_n_test=None, finetune_max_len=512,
        finetune_optim=dataclasses.replace(FINETUNE_OPTIM, lr=3e-5),  # bert-base-uncased
        bench_finetune_n_train=None, bench_finetune_n_val=None,
        bench_finetune_n_test=None, bench_finetune_max_len=512,
        # 07
        attention_lengths=(512, 1024, 2048, 4096, 8192, 16384), xl_steps=1_000, long_n_train=10_000,
        long_max_len=512, long_n_eval=2_000, long_read_len=4_096,
        # 08
        pipeline_n_train=None, pipeline_max_len=512, pipeline_n_eval=None, pipeline_n_shown=None,
        predictor_n_train=None, predictor_max_len=512,
        ablation_n_train=5_000, ablation_max_len=256,
        # 09
        deploy_n_train=None, deploy_n_test=5_000, deploy_n_latency=200,
        deploy_bench_n_test=5_000, deploy_compile=True,
    ),
}


def default_profile_name() -> str:
    """`full` when CUDA is available, else `cpu`."""
    return "full" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None) -> Profile:
    """The profile named here, else by COURSE_PROFILE, else the default for this machine."""
    name = (name or os.environ.get(PROFILE_VARIABLE) or default_profile_name()).strip().lower()
    if name not in PROFILES:
        raise ValueError(
            f"Unknown course profile {name!r} (from {PROFILE_VARIABLE} or the argument). "
            f"Choose one of: {', '.join(PROFILES)}."
        )
    return PROFILES[name]


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so reruns give the same numbers."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The best available device (cuda, then mps, then cpu), or `prefer` if given and available."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if prefer is not None:
        if prefer not in available:
            raise ValueError(f"Unknown device {prefer!r}: choose cuda, mps or cpu.")
        if not available[prefer]:
            raise RuntimeError(f"Device {prefer!r} is not available on this machine; "
                               "use get_device() to pick one.")
        return torch.device(prefer)
    return torch.device(next(name for name, ok in available.items() if ok))


# The sizes a learner compares first, as (what it is, Profile field); profile_table() has every field.
PROFILE_SUMMARY = [("IMDB training reviews", "n_train"), ("IMDB test reviews", "n_test"),
                   ("tokens kept per review", "max_len"), ("vocabulary size", "vocab_size"),
                   ("embedding width", "embed_dim"), ("RNN hidden size (03)", "hidden_dim"),
                   ("BiLSTM epochs (03)", "bilstm_epochs"),
                   ("Transformer layers (05)", "transformer_layers"),
                   ("pre-trained model (06-09)", "model_name"),
                   ("fine-tuning epochs (06-09)", "finetune_epochs"),
                   ("reviews the pipeline fine-tunes on (08)", "pipeline_n_train")]


def readable(value) -> str:
    """A profile value as a learner reads it: "all" for a whole split, thousands separated, no Hub owner.

    >>> readable(None), readable(25_000), readable("sentence-transformers/all-MiniLM-L6-v2")
    ('all', '25,000', 'all-MiniLM-L6-v2')
    """
    if value is None:
        return "all"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).rsplit("/", 1)[-1]


def profile_summary(sizes: list[tuple[str, str]] = PROFILE_SUMMARY) -> dict[str, dict[str, str]]:
    """{size: {profile: value as text}} for the few sizes that matter most, every profile side by side.

    >>> profile_summary()["tokens kept per review"]
    {'smoke': '128', 'cpu': '256', 'full': '512'}
    """
    return {label: {name: readable(getattr(profile, field)) for name, profile in PROFILES.items()}
            for label, field in sizes}


def profile_table() -> list[dict]:
    """All profiles as rows, for showing side by side in a notebook; optimizer settings as short strings."""
    def shown(value):
        return str(value) if isinstance(value, OptimizerSettings) else value
    return [{field.name: shown(getattr(p, field.name)) for field in dataclasses.fields(p)}
            for p in PROFILES.values()]
