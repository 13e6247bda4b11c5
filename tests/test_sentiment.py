import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch

from helpers import storage
from helpers.sentiment import Prediction, SentimentPredictor
from tiny import kill_a_save, tiny_finetuned

REVIEWS = ["A joy from start to finish.", "Two hours I will never get back.", "not bad at all",
           "The acting was fine but the story dragged on and on."]


@pytest.fixture
def predictor():
    return SentimentPredictor(tiny_finetuned(max_len=32))


@pytest.mark.parametrize("texts, error, message", [
    ("one review", TypeError, "wrap it in a list"),
    ([], ValueError, "at least one text"),
    (["fine", 3], TypeError, "must hold strings, got a int"),
    (["fine", "  \n"], ValueError, "Text 1 is empty or only whitespace"),
    ([""], ValueError, "Text 0 is empty"),
    (None, TypeError, "list of texts"),
    (b"bytes", TypeError, "not a single bytes object"),
])
def test_bad_input_gets_a_clear_error(predictor, texts, error, message):
    with pytest.raises(error, match=message):
        predictor.predict(texts)


def test_predict_gives_a_label_and_its_probability(predictor):
    predictions = predictor.predict(REVIEWS)
    p_positive = predictor.predict_proba(REVIEWS)
    assert len(predictions) == len(REVIEWS) and all(isinstance(p, Prediction) for p in predictions)
    for prediction, p in zip(predictions, p_positive):
        assert prediction.label == ("positive" if p >= 0.5 else "negative")
        assert prediction.probability == pytest.approx(max(p, 1 - p)) and 0.5 <= prediction.probability <= 1
    assert predictor.predict(iter(REVIEWS)) == predictions  # any iterable of strings works


def test_head_tail_keeps_the_start_and_the_end_of_a_long_review(predictor):
    long = "opening words " + "middle " * 3_000 + "closing verdict"
    (ids,) = predictor.classifier.inputs([long])
    tokens = predictor.classifier.tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) == predictor.max_len  # not the tokenizer's own 128 or 512 limit
    assert tokens[:3] == ["[CLS]", "opening", "words"] and tokens[-3:] == ["closing", "verdict", "[SEP]"]
    assert len(predictor.predict([long])) == 1


def test_batching_does_not_change_a_prediction(predictor):
    texts = [f"{REVIEWS[i % 4]} " * (1 + i % 5) for i in range(23)]
    one_by_one = np.concatenate([predictor.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(predictor.predict_proba(texts, batch_size=5), one_by_one, atol=1e-5)


@pytest.mark.slow
def test_a_thousand_texts_run_in_batches_with_one_progress_bar(predictor, capsys):
    texts = [f"review number {i}: " + REVIEWS[i % 4] for i in range(1_000)]
    predictions = predictor.predict(texts, batch_size=50)
    assert len(predictions) == 1_000
    err = capsys.readouterr().err
    assert "predicting" in err and "20/20" in err
    predictor.predict(texts[:10])
    assert capsys.readouterr().err == "", "one batch needs no bar"


def test_temperature_softens_probabilities_but_keeps_labels(predictor):
    sharp = predictor.predict(REVIEWS)
    predictor.temperature = 4.0
    soft = predictor.predict(REVIEWS)
    assert [p.label for p in soft] == [p.label for p in sharp]
    assert all(abs(s.probability - 0.5) <= abs(p.probability - 0.5) for s, p in zip(soft, sharp))


def test_save_and_load_round_trip_with_safetensors(predictor, tmp_path):
    predictor.temperature = 1.7
    expected = predictor.predict_proba(REVIEWS)
    folder = predictor.save(tmp_path / "model")
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    loaded = SentimentPredictor.load(folder)
    assert (loaded.max_len, loaded.classifier.config.truncation, loaded.temperature) == (32, "head+tail", 1.7)
    np.testing.assert_allclose(loaded.predict_proba(REVIEWS), expected, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "no staging folder left behind"


def test_temperature_must_be_positive(predictor):
    with pytest.raises(ValueError, match="temperature must be positive"):
        SentimentPredictor(predictor.classifier, temperature=0.0)


def test_load_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="No saved predictor"):
        SentimentPredictor.load(tmp_path / "nothing")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["writing", "swapping"])
def test_a_save_killed_midway_leaves_the_old_predictor_intact(predictor, tmp_path, stage):
    folder = predictor.save(tmp_path / "model")
    expected = predictor.predict_proba(REVIEWS)
    assert kill_a_save(folder, stage, "predictor") == -signal.SIGKILL
    if stage == "swapping":
        assert not folder.exists(), "killed between the two renames, as intended"
    loaded = SentimentPredictor.load(folder)  # puts the previous predictor back
    np.testing.assert_allclose(loaded.predict_proba(REVIEWS), expected, atol=1e-6)
    loaded.temperature = 2.0
    loaded.save(folder)  # the next save clears what the killed one left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert SentimentPredictor.load(folder).temperature == 2.0


def test_none_among_the_texts_gets_the_same_type_error_as_other_non_strings(predictor):
    with pytest.raises(TypeError, match="must hold strings, got a NoneType"):
        predictor.predict(["fine", None])


@pytest.mark.parametrize("temperature", [math.inf, math.nan, -1.0, 0.0, "1.5"])
def test_temperature_must_be_a_positive_finite_number(predictor, temperature):
    with pytest.raises(ValueError, match="temperature must be positive and finite"):
        SentimentPredictor(predictor.classifier, temperature=temperature)


# --- Loading: only the folder's own files, checked, never changed -------------------------------------------


def without_manifest(folder: Path) -> Path:
    """The folder as the course saved it before it wrote manifests."""
    (folder / storage.MANIFEST).unlink(missing_ok=True)  # missing_ok: the old code wrote none
    return folder


def test_loading_deletes_nothing_beside_the_folder(predictor, tmp_path):
    folder = predictor.save(tmp_path / "model")
    shutil.copytree(folder, tmp_path / ".model.previous")  # a save cut off after its second rename left it
    SentimentPredictor.load(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.previous", "model"]


def test_a_folder_saved_before_manifests_loads_with_a_warning(predictor, tmp_path):
    folder = predictor.save(tmp_path / "model")
    for name in ("model_type", "tokenizer_size"):  # what the old code did not record either
        meta = json.loads((folder / "finetune.json").read_text())
        del meta[name]
        (folder / "finetune.json").write_text(json.dumps(meta))
    without_manifest(folder)
    with pytest.warns(UserWarning, match="saved before the course recorded checksums.*save it again"):
        loaded = SentimentPredictor.load(folder)
    np.testing.assert_allclose(loaded.predict_proba(REVIEWS), predictor.predict_proba(REVIEWS), atol=1e-6)
    loaded.save(folder)  # replacing it is allowed: the course wrote it
    assert storage.verify_folder(folder) is not None


def plant_code(folder: Path, config_file: str) -> Path:
    """Give `config_file` an auto_map pointing at a module in the folder that leaves a mark when imported."""
    marker = folder.parent / "planted-code-ran"
    (folder / config_file).parent.joinpath("planted.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nfrom transformers import BertConfig as PlantedConfig\n"
        "from transformers import BertTokenizer as PlantedTokenizer\n")
    config = json.loads((folder / config_file).read_text())
    if config_file.startswith("encoder"):
        config |= {"model_type": "planted", "auto_map": {"AutoConfig": "planted.PlantedConfig"}}
    else:
        config |= {"tokenizer_class": "PlantedTokenizer",
                   "auto_map": {"AutoTokenizer": ["planted.PlantedTokenizer", None]}}
    (folder / config_file).write_text(json.dumps(config))
    return marker


@pytest.mark.parametrize("config_file", ["encoder/config.json", "tokenizer/tokenizer_config.json"])
def test_loading_never_runs_code_from_the_folder_nor_asks_whether_to(predictor, tmp_path, config_file):
    folder = without_manifest(predictor.save(tmp_path / "model"))  # a crafted folder may carry no manifest
    marker = plant_code(folder, config_file)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    code = "import sys\nfrom helpers.sentiment import SentimentPredictor as P\nP.load(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, str(folder)], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=env, timeout=300)
    assert "Do you wish to run the custom code" not in result.stdout + result.stderr
    assert not marker.exists(), "the planted code ran"
    assert result.returncode != 0 and f"{config_file} asks to run code shipped" in result.stderr


def test_a_missing_encoder_is_not_looked_up_on_the_hub(predictor, tmp_path, monkeypatch, no_network):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # as on a machine that is online
    shutil.rmtree(predictor.save("model") / "encoder")
    with pytest.raises(ValueError, match="encoder/config.json is missing"):  # the manifest lists it
        SentimentPredictor.load("model")
    without_manifest(tmp_path / "model")
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match="encoder/config.json is missing"):
        SentimentPredictor.load("model")


def set_nan(predictor: SentimentPredictor) -> None:
    with torch.no_grad():
        predictor.classifier.model.head.weight[0, 0] = math.nan


def edit_json(file: Path, **changes) -> None:
    file.write_text(json.dumps(json.loads(file.read_text()) | changes))


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.joinpath("model.safetensors").write_bytes(f.joinpath("model.safetensors").read_bytes()[:-9]),
     "model.safetensors is damaged or was changed"),
    (lambda f: f.joinpath("tokenizer", "tokenizer.json").unlink(), "tokenizer.json is missing"),
    (lambda f: edit_json(f / "predictor.json", temperature=3.0), "predictor.json is damaged or was changed"),
])
def test_a_damaged_folder_is_refused_naming_the_file(predictor, tmp_path, damage, message):
    folder = predictor.save(tmp_path / "model")
    damage(folder)
    with pytest.raises(ValueError, match=message):
        SentimentPredictor.load(folder)


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.joinpath("model.safetensors").write_bytes(f.joinpath("model.safetensors").read_bytes()[:-9]),
     "model.safetensors is damaged or belongs to another model"),
    (lambda f: f.joinpath("finetune.json").write_text('{"config": {'), "finetune.json is damaged: it is not"),
    (lambda f: f.joinpath("predictor.json").write_text('{"temperature": NaN}'), "predictor.json is damaged"),
    (lambda f: f.joinpath("tokenizer", "tokenizer.json").unlink(), "tokenizer.json is missing"),
    (lambda f: edit_json(f / "encoder" / "config.json", model_type="roberta"),
     "describes a 'roberta' encoder, but a 'bert' one was saved"),
    (lambda f: edit_json(f / "finetune.json", tokenizer_size=5), "vocabulary of 30,522 tokens, but one of 5"),
])
def test_a_damaged_folder_without_checksums_is_refused_naming_the_file(predictor, tmp_path, damage, message):
    folder = without_manifest(predictor.save(tmp_path / "model"))
    damage(folder)
    refused = pytest.raises((ValueError, FileNotFoundError), match=message)
    with pytest.warns(UserWarning, match="checksums"), refused:
        SentimentPredictor.load(folder)


def test_nan_weights_are_refused(predictor, tmp_path):
    set_nan(predictor)
    folder = predictor.save(tmp_path / "model")
    with pytest.raises(ValueError, match=r"model.safetensors holds NaN or infinite weights \(head.weight\)"):
        SentimentPredictor.load(folder)


@pytest.mark.parametrize("text", ["<br /><br />", "\u200b\u200c", "\x07\x08", "\ud800 fine"])
def test_texts_with_nothing_to_read_are_refused_not_scored(predictor, text):
    with pytest.raises(ValueError, match="Text 1 cannot be classified"):
        predictor.predict(["A fine film.", text])


def test_word_effects_say_how_far_leaving_each_word_out_moves_the_probability(predictor):
    text = "The acting was <br />fine but the story dragged."
    words = ["The", "acting", "was", "fine", "but", "the", "story", "dragged."]  # cleaned: no HTML
    effects = predictor.word_effects(text)
    assert [w for w, _ in effects] == words
    p_whole = predictor.predict_proba([" ".join(words)])[0]
    for i in (0, 3, 7):
        without = " ".join(words[:i] + words[i + 1:])
        assert effects[i][1] == pytest.approx(p_whole - predictor.predict_proba([without])[0], abs=1e-6)
    assert any(abs(e) > 1e-4 for _, e in effects), "a random model still responds to its words"


def test_words_the_model_does_not_read_have_no_effect(predictor):
    text = "opening words " + "middle " * 200 + "closing verdict"  # the window is 32 tokens
    effects = predictor.word_effects(text)
    assert all(e is not None for _, e in effects[:2] + effects[-2:])
    middle = [e for _, e in effects[40:160]]
    assert middle == [None] * len(middle)


def test_word_effects_need_one_readable_text(predictor):
    assert predictor.word_effects("splendid") == [("splendid", None)]  # leaving it out leaves nothing
    with pytest.raises(ValueError, match="empty"):
        predictor.word_effects("   ")
    with pytest.raises(TypeError, match="one text"):
        predictor.word_effects(["a list"])
