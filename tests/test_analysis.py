import doctest

import numpy as np
import pytest
import torch

from helpers import analysis, sentiment, viz


@pytest.mark.parametrize("module", [analysis, sentiment, viz])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


def test_scores_match_their_definitions():
    labels, p = [0, 0, 1, 1, 1], [0.2, 0.7, 0.6, 0.4, 0.9]
    s = analysis.scores(labels, p)
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["f1"] == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))  # precision 2/3, recall 2/3
    assert s["roc_auc"] == pytest.approx(4 / 6)  # 4 of the 6 (positive, negative) pairs ranked right
    table = analysis.confusion(labels, p)
    assert table.to_numpy().tolist() == [[1, 1], [1, 2]]


def test_a_calibrated_model_has_small_ece_and_an_overconfident_one_does_not():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20_000)
    labels = (rng.uniform(0, 1, p.size) < p).astype(int)  # right exactly as often as it says
    assert analysis.expected_calibration_error(labels, p) < 0.02
    overconfident = np.where(p >= 0.5, 0.99, 0.01)
    assert analysis.expected_calibration_error(labels, overconfident) > 0.2
    table = analysis.reliability(labels, p, n_bins=5)
    assert table["count"].sum() == p.size and len(table) == 5
    with pytest.raises(ValueError, match="n_bins"):
        analysis.reliability(labels, p, n_bins=0)


def test_reliability_diagram_shows_how_many_predictions_each_bin_holds():
    import matplotlib

    matplotlib.use("Agg")
    labels, p = [1, 1, 0, 0, 1], [0.9, 0.95, 0.3, 0.6, 0.52]
    ax = analysis.plot_reliability({"model": (labels, p)}, n_bins=5)
    bars = [a for a in ax.figure.axes if a is not ax][0].patches
    assert [b.get_height() for b in bars] == analysis.reliability(labels, p, n_bins=5)["count"].tolist()
    assert [b.get_height() for b in bars] == [2, 1, 0, 1, 1]  # confidence 0.52 and 0.6 share a bin


def test_temperature_undoes_a_known_scaling():
    rng = np.random.default_rng(0)
    true_logits = torch.tensor(rng.normal(0, 2, (5_000, 2)))
    labels = torch.distributions.Categorical(logits=true_logits).sample()
    t = analysis.fit_temperature(true_logits * 3.0, labels)  # logits three times too confident
    assert t == pytest.approx(3.0, rel=0.1)


def test_confident_mistakes_come_most_confident_first():
    texts = ["a", "b c", "d e f", "g"]
    table = analysis.confident_mistakes(texts, [1, 0, 1, 0], [0.3, 0.95, 0.9, 0.6], k=2)
    assert table["index"].tolist() == [1, 0]  # wrong at 0.95, then at 0.7 (0.3 for the true class); not 0.6
    assert table["words"].tolist() == [2, 1]


def test_accuracy_where_and_by_length_count_each_group():
    texts = ["not bad", "good but long", "great", "not good"]
    table = analysis.accuracy_where(texts, [1, 0, 1, 0], [0.2, 0.4, 0.9, 0.1],
                                    {"negation": r"\bnot\b", "contrast": r"\bbut\b"})
    assert table.set_index("pattern")["accuracy"].to_dict() == {"negation": 0.5, "contrast": 1.0,
                                                                 "all reviews": 0.75}
    by_length = analysis.accuracy_by_length([3, 50, 700], [1, 1, 0], [0.9, 0.1, 0.2], [0, 100, 1_000])
    assert by_length["reviews"].tolist() == [2, 1] and by_length["share"].sum() == pytest.approx(1.0)
    open_ended = analysis.accuracy_by_length([3, 50, 700], [1, 1, 0], [0.9, 0.1, 0.2], [0, 100, float("inf")])
    assert open_ended["tokens"].tolist() == ["0-99", "100+"] and open_ended["reviews"].tolist() == [2, 1]


def test_preprocessing_report_counts_html_duplicates_and_overlap():
    train = ["Great film!<br /><br />Loved it.", "great film! loved it.", "Dull.  Very dull.",
             "Dull. Very dull.", "Dull. Very dull.", "Fine."]
    test = ["Fine.", "fine", "Something new."]
    table = analysis.preprocessing_report(train, test).set_index("what")
    report = table["reviews"]
    assert report["train reviews with HTML tags"] == 1
    assert table.loc["train reviews with HTML tags", "share (%)"] == pytest.approx(100 / 6, abs=0.01)
    assert table.loc["test reviews also in train, exactly", "share (%)"] == pytest.approx(100 / 3, abs=0.01)
    assert report["train reviews with messy whitespace"] == 1
    assert report["exact duplicates within train (extra copies)"] == 1  # "Dull. Very dull." twice
    assert report["near duplicates within train (extra copies)"] == 2  # the HTML copy, the double space
    assert report["test reviews also in train, exactly"] == 1
    assert report["test reviews also in train, nearly"] == 1
    assert analysis.deduplicate(train) == [0, 2, 5]


class StrictColumn(list):
    """A column that, like datasets 4's `Column`, takes only plain int keys."""

    def __getitem__(self, key):
        if type(key) is not int:
            raise TypeError(f"Wrong key type: {key!r} of type {type(key)}")
        return super().__getitem__(key)


def test_confident_mistakes_index_texts_with_plain_ints():
    texts = StrictColumn(["a fine film", "dull", "bad bad", "superb"])
    table = analysis.confident_mistakes(texts, [1, 0, 1, 0], [0.3, 0.95, 0.9, 0.6], k=2)
    assert table["text"].tolist() == ["dull", "a fine film"]
