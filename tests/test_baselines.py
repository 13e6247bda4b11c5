from helpers.baselines import C_GRID, select_and_fit


def test_select_and_fit_chooses_on_validation_and_refits_on_both_splits():
    train = ["a superb film", "a dreadful film", "superb acting", "dreadful acting"] * 5
    labels = [1, 0, 1, 0] * 5
    # "zyzzyva" occurs only in validation, twice (min_df=2): it is in the vocabulary only if validation was refit on.
    val, val_labels = ["superb zyzzyva", "dreadful dreadful", "zyzzyva superb"], [1, 0, 1]
    model, best_C, scores = select_and_fit(train, labels, val, val_labels)
    assert set(scores) == set(C_GRID) and scores[best_C] == max(scores.values())
    assert "zyzzyva" in model.named_steps["tfidfvectorizer"].vocabulary_
    assert model.predict(["superb", "dreadful"]).tolist() == [1, 0]
