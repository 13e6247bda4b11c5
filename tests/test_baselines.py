import pytest

from helpers import baselines, tokenization
from helpers.baselines import C_GRID, select_and_fit

TRAIN = ["a superb film", "a dreadful film", "superb acting", "dreadful acting"] * 5
LABELS = [1, 0, 1, 0] * 5


def test_select_and_fit_chooses_on_validation_and_keeps_the_model_fitted_on_train():
    # "zyzzyva" occurs only in validation, twice (min_df=2): fitting on validation would add it.
    val, val_labels = ["superb zyzzyva", "dreadful dreadful", "zyzzyva superb"], [1, 0, 1]
    model, best_C, scores = select_and_fit(TRAIN, LABELS, val, val_labels)
    assert set(scores) == set(C_GRID) and scores[best_C] == max(scores.values())
    assert "zyzzyva" not in model.named_steps["tfidfvectorizer"].vocabulary_
    assert model.named_steps["logisticregression"].C == best_C
    assert model.predict(["superb", "dreadful"]).tolist() == [1, 0]


def test_the_chosen_C_is_the_best_on_validation_with_ties_to_the_smaller():
    # Three positives to one negative: with a tiny C the weights vanish and the intercept calls everything
    # positive (validation 50%); with a large C "awful" wins (100%), for 100 and 1000 alike.
    train, labels = ["a great film"] * 9 + ["an awful film"] * 3, [1] * 9 + [0] * 3
    grid = (1000.0, 0.001, 100.0)
    model, best_C, scores = select_and_fit(train, labels, ["great", "awful"], [1, 0], grid=grid)
    assert scores[0.001] < scores[100.0] == scores[1000.0] and best_C == 100.0


def test_words_are_counted_with_the_course_tokenizer(monkeypatch):
    seen = []
    def spy(text):
        seen.append(text)
        return tokenization.word_tokenize(text)

    monkeypatch.setattr(baselines, "word_tokenize", spy)
    vectorizer = baselines.tfidf_vectorizer(min_df=1).fit(["Don't <br />miss it: 10/10!"])
    assert seen == ["don't miss it: 10/10!"]  # cleaned first (clean_text), then split by word_tokenize
    expected = tokenization.word_tokenize(tokenization.clean_text("Don't <br />miss it: 10/10!"))
    assert set(expected) <= set(vectorizer.vocabulary_)


def test_an_empty_grid_is_an_error():
    with pytest.raises(ValueError, match="grid is empty"):
        select_and_fit(TRAIN, LABELS, TRAIN[:2], LABELS[:2], grid=())
