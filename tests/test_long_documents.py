import pytest
import torch
from datasets import Dataset
from transformers import AutoTokenizer, BertConfig, BertModel

from helpers import batching, finetune, long_documents, models

WORDS = "the film was a slow but moving story and the actors were great though the end dragged".split()


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A tiny random BERT classifier (64 positions) with the packaged WordPiece vocabulary."""
    tokenizer = AutoTokenizer.from_pretrained(models.offline_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    folder = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    settings = finetune.FinetuneConfig(max_len=32, eval_batch_size=4)
    tokenizer, model = finetune.build_classifier(str(folder), settings, verbose=False)
    return finetune.FineTuned(model.eval(), tokenizer, settings, finetune.History(), 0.0, "tiny")


def review(n_words: int, seed: int = 0) -> str:
    generator = torch.Generator().manual_seed(seed)
    return " ".join(WORDS[i] for i in torch.randint(len(WORDS), (n_words,), generator=generator))


def test_lengths_count_every_wordpiece_and_the_special_tokens(classifier):
    lengths = long_documents.wordpiece_lengths(classifier.tokenizer, [review(600), "great film"])
    assert lengths[0] > 600 and lengths[1] == 4, "no truncation (the packaged tokenizer.json stops at 128)"


def test_longer_than_keeps_only_what_the_model_cannot_read_whole(classifier):
    texts = [review(5), review(100, 1), review(10), review(80, 2)]
    ds = Dataset.from_dict({"text": texts, "label": [0, 1, 0, 1]})
    long = long_documents.longer_than(ds, classifier.tokenizer, max_len=32)
    assert long["text"] == [ds["text"][1], ds["text"][3]]
    assert len(long_documents.longer_than(ds, classifier.tokenizer, 32, n=1)) == 1


def test_with_truncation_changes_what_is_read_and_nothing_else(classifier):
    tail = long_documents.with_truncation(classifier, "tail")
    text = review(200)
    assert tail.model is classifier.model and tail.config.max_len == classifier.config.max_len
    assert tail.inputs([text])[0][-10:] == classifier.inputs([text])[0][-10:]  # head+tail ends like tail
    assert tail.inputs([text])[0][1:10] != classifier.inputs([text])[0][1:10]


def test_chunk_and_pool_averages_the_windows_logits(classifier):
    texts = [review(120, 3), "a great film"]
    proba = long_documents.chunk_and_pool_proba(classifier, texts, overlap=8)
    t = classifier.tokenizer
    windows = finetune.chunk_review(finetune.encode(t, texts[:1])[0], 32, 8, t.cls_token_id, t.sep_token_id)
    assert len(windows) > 2
    inputs, _ = batching.pad_batch(windows, [0] * len(windows), t.pad_token_id)
    with torch.no_grad():
        expected = classifier.model(**inputs).mean(0).softmax(-1)
    torch.testing.assert_close(proba[0], expected)
    torch.testing.assert_close(proba[1], classifier.predict_proba(texts[1:])[0], msg="one window: no pooling")


def test_the_longformer_version_equals_the_original_where_its_window_covers_the_review(classifier):
    long = long_documents.to_longformer(classifier, max_len=32, window=64)  # 32 tokens each side
    texts = [review(20, 4), review(200, 5), "fine"]
    torch.testing.assert_close(long.predict_proba(texts), classifier.predict_proba(texts))


def test_the_longformer_version_reads_past_the_learned_positions(classifier):
    long = long_documents.to_longformer(classifier, max_len=300, window=16)
    assert long.config.eval_batch_size * 300 <= classifier.config.eval_batch_size * 32 or \
        long.config.eval_batch_size == 1, "batches of about as many tokens as before, not 10x more"
    text = review(400, 6)
    assert len(long.inputs([text])[0]) == 300 > classifier.model.encoder.config.max_position_embeddings
    proba = long.predict_proba([text])
    assert proba.shape == (1, 2) and torch.isfinite(proba).all()
    shorter = long.predict_proba([" ".join(text.split()[:100])])
    assert not torch.allclose(proba, shorter), "the end of the review changes the prediction"


def test_only_bert_encoders_convert(classifier):
    long = long_documents.to_longformer(classifier, max_len=64, window=16)
    with pytest.raises(TypeError, match="converts a BERT encoder"):
        long_documents.to_longformer(long, max_len=64)
