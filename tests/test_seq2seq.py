import dataclasses
import doctest

import pytest
import torch

from helpers import config, seq2seq


def test_doctests():
    assert doctest.testmod(seq2seq).failed == 0


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (13, "thirteen"), (40, "forty"), (105, "one hundred five"),
    (999, "nine hundred ninety-nine"),
    (1_000_000, "one million"), (20_300_001, "twenty million three hundred thousand one"),
    (123_456_789_012, "one hundred twenty-three billion four hundred fifty-six million seven hundred "
                      "eighty-nine thousand twelve"),
])
def test_number_to_words(n, words):
    assert seq2seq.number_to_words(n) == words


def test_every_number_has_its_own_spelling():
    spellings = {seq2seq.number_to_words(n) for n in range(0, 200_000, 7)}
    assert len(spellings) == len(range(0, 200_000, 7))


def test_number_to_words_rejects_what_it_cannot_spell():
    for bad in (-1, 10**12, 3.0):
        with pytest.raises(ValueError, match="whole numbers"):
            seq2seq.number_to_words(bad)


def test_task_is_seeded_and_no_test_target_is_seen_in_training():
    task = seq2seq.make_number_task(500, 100, 100, max_digits=6, seed=3)
    assert task == seq2seq.make_number_task(500, 100, 100, max_digits=6, seed=3)
    assert task != seq2seq.make_number_task(500, 100, 100, max_digits=6, seed=4)
    targets = {name: {t for _, t in pairs} for name, pairs in task.items()}
    assert [len(targets[n]) for n in ("train", "val", "test")] == [500, 100, 100]
    assert not targets["train"] & targets["test"] and not targets["train"] & targets["val"]
    assert not targets["val"] & targets["test"]
    assert {len(t) for t in targets["train"]} == set(range(1, 7))
    for words, digits in task["test"]:
        assert seq2seq.number_to_words(int(digits)) == words


def test_task_sizes_are_checked():
    with pytest.raises(ValueError, match="at least one"):
        seq2seq.make_number_task(10, 0, 10)
    with pytest.raises(ValueError, match="too many"):
        seq2seq.make_number_task(400, 100, 100, max_digits=3)


def test_source_tokens_are_words_and_round_trip():
    assert seq2seq.source_tokens("forty-two thousand six") == ["forty", "two", "thousand", "six"]
    batch = seq2seq.make_batch([("forty-two thousand six", "42006"), ("nine", "9")])
    assert batch.src.shape == (2, 4) and batch.src_lengths.tolist() == [4, 1]
    assert batch.src[1, 1:].tolist() == [seq2seq.PAD_ID] * 3
    assert batch.tgt_in[0, 0] == seq2seq.BOS_ID and batch.tgt_out[1, :2].tolist()[1] == seq2seq.EOS_ID
    assert seq2seq.decode_digits(batch.tgt_out[0].tolist()) == "42006"


@pytest.mark.parametrize("kind", ["gru", "bahdanau", "luong"])
def test_padding_does_not_change_a_prediction(kind):
    torch.manual_seed(0)
    model = seq2seq.make_model(kind, 8, 16).eval()
    alone = seq2seq.make_batch([("six", "6")])
    padded = seq2seq.make_batch([("six", "6"), ("six hundred seventy-two thousand one", "672001")])
    with torch.no_grad():
        a = model(alone.src, alone.src_lengths, alone.tgt_in)
        b = model(padded.src, padded.src_lengths, padded.tgt_in)[:1, : alone.tgt_in.size(1)]
    torch.testing.assert_close(a, b)


def test_attention_weights_cover_the_source_and_nothing_else():
    torch.manual_seed(0)
    model = seq2seq.make_model("bahdanau", 8, 16)
    digits, weights = seq2seq.attention_map(model, "three hundred two")
    # A row per output token and <eos>; an untrained model may never emit <eos> and stop at MAX_OUTPUT rows.
    assert weights.shape == (min(len(digits) + 1, seq2seq.MAX_OUTPUT), 3)
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(weights)))
    with pytest.raises(ValueError, match="no attention"):
        seq2seq.attention_map(seq2seq.make_model("gru", 8, 16), "three")


def test_teacher_forcing_ratio_decides_what_the_decoder_reads():
    torch.manual_seed(0)
    model = seq2seq.make_model("gru", 8, 16)
    batch = seq2seq.make_batch([("nine hundred ninety-nine", "999")] * 4)
    fed = []
    step = model.decoder.step
    model.decoder.step = lambda tokens, state: fed.append(tokens.clone()) or step(tokens, state)
    model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing=1.0)
    assert all(torch.equal(f, batch.tgt_in[:, t]) for t, f in enumerate(fed))
    fed.clear()
    logits = model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing=0.0)
    own = logits.argmax(-1)
    assert all(torch.equal(fed[t], own[:, t - 1]) for t in range(1, len(fed)))


@pytest.mark.slow
def test_training_learns_a_small_task():
    torch.manual_seed(0)
    task = seq2seq.make_number_task(400, 50, 50, max_digits=3, seed=0)
    model = seq2seq.make_model("bahdanau", 16, 32)
    history = seq2seq.train(model, task["train"], task["val"], epochs=6, batch_size=32, lr=1e-2,
                            progress=False)
    assert [row["epoch"] for row in history] == list(range(1, 7))
    assert history[-1]["loss"] < history[0]["loss"] / 3
    assert seq2seq.exact_match(model, task["val"]) == max(row["val_exact_match"] for row in history) > 0.8


def test_predict_wants_a_list():
    with pytest.raises(TypeError, match="wrap"):
        seq2seq.predict(seq2seq.make_model("gru", 8, 16), "six")


@pytest.mark.slow
def test_seq2seq_benchmark_rows(monkeypatch):
    from helpers import bench, config

    tiny = dataclasses.replace(config.get_profile("smoke"), seq2seq_train=120, seq2seq_epochs=1)
    monkeypatch.setattr(config, "get_profile", lambda name=None: tiny)
    rows = bench.run("seq2seq", profile_name="smoke")
    assert [row["model"] for row in rows] == ["gru", "gru_attention", "transformer"]
    for row in rows:
        assert {"test_accuracy", "long_input_accuracy", "train_seconds", "params"} <= set(row)
        assert row["n_train"] == 120 and row["n_test"] == 30 and row["params"] > 1000
        assert 0 <= row["long_input_accuracy"] <= 1 and row["benchmark"] == "seq2seq"


def test_longest_quarter_is_scored_on_the_longest_inputs():
    rows = [{"words": w, "correct": w > 6} for w in range(1, 9)]
    assert seq2seq.long_input_accuracy(rows) == 1.0
    assert seq2seq.long_input_accuracy([{"words": 3, "correct": False}]) == 0.0


def test_fit_gives_the_numbers_it_gave_before_the_shared_training_core():
    """Measured with the loop as before `training.optimizer_step`, `BestWeights` and `mixed_precision`."""
    profile = dataclasses.replace(config.get_profile("smoke"), seq2seq_train=64, seq2seq_epochs=1)
    _, (row,) = seq2seq.fit("bahdanau", seq2seq.make_task(profile), profile, progress=False)
    assert row["loss"] == pytest.approx(2.6575570106506348, rel=1e-6) and row["val_exact_match"] == 0.0
