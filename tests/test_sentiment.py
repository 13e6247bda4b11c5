import signal

import numpy as np
import pytest

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
    (["fine", 3], TypeError, "must be a string, got int"),
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
