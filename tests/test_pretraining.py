import pytest
import torch
from transformers import AutoTokenizer, DataCollatorForLanguageModeling

from helpers import config, generation, models, pretraining


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.offline_model_path())


def _batch(tokenizer, n=400, length=64, seed=0):
    """Random ordinary tokens framed by [CLS] ... [SEP], with some [PAD] at the end of every other row."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, len(tokenizer), (n, length), generator=g)
    ids[:, 0], ids[:, -1] = tokenizer.cls_token_id, tokenizer.sep_token_id
    ids[::2, -8:-1] = tokenizer.pad_token_id
    return ids


def test_bert_masking_has_the_papers_proportions_and_spares_special_tokens(tokenizer):
    ids = _batch(tokenizer)
    special = pretraining.special_tokens_mask(tokenizer, ids)
    inputs, labels = pretraining.mask_tokens(ids, special, tokenizer.mask_token_id, len(tokenizer),
                                             generator=torch.Generator().manual_seed(1))
    stats = pretraining.masking_statistics(ids, inputs, labels, special, tokenizer.mask_token_id)
    # About 3,700 chosen of 24,600 ordinary tokens: binomial standard errors are 0.2 and 0.6 points.
    assert stats["chosen (of ordinary tokens)"] == pytest.approx(0.15, abs=0.01)
    assert stats["[MASK] (of chosen)"] == pytest.approx(0.80, abs=0.025)
    assert stats["random (of chosen)"] == pytest.approx(0.10, abs=0.02)
    assert stats["unchanged (of chosen)"] == pytest.approx(0.10, abs=0.02)
    assert stats["special tokens chosen"] == 0 and stats["tokens changed but not chosen"] == 0
    assert torch.equal(labels[labels != -100], ids[labels != -100])


def test_our_masking_matches_the_data_collators_statistics(tokenizer):
    ids = _batch(tokenizer, n=800)
    special = pretraining.special_tokens_mask(tokenizer, ids)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=3)
    theirs = collator.torch_mask_tokens(ids.clone(), special_tokens_mask=special.clone())
    ours = pretraining.mask_tokens(ids, special, tokenizer.mask_token_id, len(tokenizer),
                                   generator=torch.Generator().manual_seed(3))
    a, b = (pretraining.masking_statistics(ids, x, y, special, tokenizer.mask_token_id)
            for x, y in (ours, theirs))
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], abs=0.02), key


def test_mlm_loss_on_chosen_positions_equals_the_models_own_loss(tokenizer):
    model = pretraining.tiny_bert(len(tokenizer), 64, hidden=32)
    ids = _batch(tokenizer, n=4)
    special = pretraining.special_tokens_mask(tokenizer, ids)
    inputs, labels = pretraining.mask_tokens(ids, special, tokenizer.mask_token_id, len(tokenizer),
                                             generator=torch.Generator().manual_seed(0))
    model.eval()
    torch.testing.assert_close(pretraining.mlm_loss(model, inputs, labels),
                               model(input_ids=inputs, labels=labels).loss)


def test_sentence_pairs_are_balanced_and_follow_each_task():
    docs = [[f"d{d} s{i}." for i in range(5)] for d in range(20)]
    nsp = pretraining.sentence_pairs(docs, 200, "nsp", seed=0)
    sop = pretraining.sentence_pairs(docs, 200, "sop", seed=0)
    for pairs in (nsp, sop):
        assert sum(label for *_, label in pairs) == 100
    same_doc = lambda a, b: a.split()[0] == b.split()[0]  # noqa: E731
    index = lambda s: int(s.split()[1][1:-1])  # noqa: E731
    assert all(same_doc(a, b) and index(b) == index(a) + 1 for a, b, label in nsp + sop if label == 1)
    assert all(not same_doc(a, b) for a, b, label in nsp if label == 0)
    assert all(same_doc(a, b) and index(a) == index(b) + 1 for a, b, label in sop if label == 0)
    with pytest.raises(ValueError, match="nsp"):
        pretraining.sentence_pairs(docs, 10, "next")


def test_lm_blocks_keep_document_order_with_separators():
    blocks = pretraining.lm_blocks([[1, 2, 3, 4], [5, 6], [7, 8, 9]], block_size=4, sep_id=0)
    assert blocks.tolist() == [[1, 2, 3, 4], [0, 5, 6, 0], [7, 8, 9, 0]]
    framed = pretraining.lm_blocks([[1, 2, 3, 4], [5, 6], [7, 8, 9]], block_size=4, sep_id=0, cls_id=-1)
    assert framed.tolist() == [[-1, 1, 2, 3], [-1, 4, 0, 5], [-1, 6, 0, 7], [-1, 8, 9, 0]]
    with pytest.raises(ValueError, match="fewer than one block"):
        pretraining.lm_blocks([[1]], block_size=4, sep_id=0)


@pytest.fixture(scope="module")
def small_tokenizer():
    """A WordPiece vocabulary of a few hundred entries learned from a handful of sentences: fast tiny LMs."""
    texts = ["The plot was great and fun.", "An awful film, boring and dreadful!"] * 20
    return pretraining.lm_tokenizer(texts, vocab_size=200)


def test_lm_tokenizer_learns_the_corpus_words_with_berts_special_tokens(small_tokenizer):
    assert len(small_tokenizer) <= 200
    assert small_tokenizer.tokenize("The plot was AWFUL") == ["the", "plot", "was", "awful"]
    assert small_tokenizer("fun")["input_ids"][0] == small_tokenizer.cls_token_id
    assert {"[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"} <= set(small_tokenizer.all_special_tokens)


FAST = config.OptimizerSettings(lr=3e-3, weight_decay=0.01, clip_norm=1.0, warmup=0.05)  # tiny data


@pytest.mark.slow
def test_a_tiny_masked_lm_learns_to_fill_the_blank_from_context(small_tokenizer):
    tokenizer = small_tokenizer
    # Two kinds of documents, one word repeated in each: only the words around a blank can tell which it is.
    docs = [tokenizer(word, add_special_tokens=False)["input_ids"] * 26 for word in ("great", "awful") * 6]
    blocks = pretraining.lm_blocks(docs, 28, tokenizer.sep_token_id, tokenizer.cls_token_id)
    model = pretraining.tiny_bert(len(tokenizer), 64, hidden=32)
    before = pretraining.masked_accuracy(model, blocks, tokenizer)
    losses = pretraining.train_lm(model, "mlm", blocks, steps=100, optim=FAST, batch_size=8,
                                  tokenizer=tokenizer, progress=False)
    assert sum(losses[-10:]) < 0.2 * sum(losses[:10])
    assert pretraining.masked_accuracy(model, blocks, tokenizer) > max(0.9, before)
    for word in ("great", "awful"):
        assert pretraining.fill_mask(model, tokenizer, f"{word} {word} [MASK] {word}", k=3)[0][0][0] == word


@pytest.mark.slow
def test_a_tiny_causal_lm_learns_the_next_word(small_tokenizer):
    tokenizer = small_tokenizer
    ids = tokenizer(" ".join("the plot was great and fun".split() * 40),
                    add_special_tokens=False)["input_ids"]
    blocks = pretraining.lm_blocks([ids], block_size=30, sep_id=tokenizer.sep_token_id)
    model = pretraining.tiny_gpt(len(tokenizer), 64, hidden=32)
    batch = blocks[:4]
    model.eval()  # no dropout: two forward passes give the same logits
    assert pretraining.lm_loss(model, "causal", batch).item() == pytest.approx(
        model(input_ids=batch, labels=batch).loss.item(), rel=1e-5), ("the same shift as "
                                                                       "transformers' own loss")
    losses = pretraining.train_lm(model, "causal", blocks, steps=150, optim=FAST, batch_size=8,
                                  progress=False)
    assert sum(losses[-10:]) < 0.1 * sum(losses[:10])
    prompt = torch.tensor([tokenizer.convert_tokens_to_ids(["the", "plot", "was"])])
    assert tokenizer.decode(generation.greedy(model, prompt, 3)[0, 3:]) == "great and fun"


def test_fill_mask_needs_a_mask(tokenizer):
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        pretraining.fill_mask(pretraining.tiny_bert(len(tokenizer), 16, hidden=16), tokenizer,
                              "no blank here")


def test_train_lm_gives_the_losses_it_gave_before_the_shared_training_core():
    """Measured with the loop as before `training.optimizer_step` and `mixed_precision` (fp32 on a CPU)."""
    blocks = torch.randint(5, 50, (12, 8), generator=torch.Generator().manual_seed(0))
    model = pretraining.tiny_gpt(50, 8, hidden=16, layers=1)
    optim = config.get_profile("cpu").tiny_lm_optim
    losses = pretraining.train_lm(model, "causal", blocks, steps=4, optim=optim, batch_size=4, progress=False)
    torch.testing.assert_close(losses, [3.914459705352783, 3.8990371227264404,
                                        3.9323439598083496, 3.8880133628845215])
