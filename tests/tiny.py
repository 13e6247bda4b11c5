"""A tiny random BERT classifier with the offline model's tokenizer: real code paths, seconds to run."""

from __future__ import annotations

import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from helpers import finetune, models


def tiny_encoder(attn_implementation: str = "eager", seed: int = 0):
    """(tokenizer, encoder): 2 layers, 2 heads, width 32, no dropout (so runs repeat exactly)."""
    tokenizer = AutoTokenizer.from_pretrained(models.offline_model_path())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    return tokenizer, BertModel._from_config(config, attn_implementation=attn_implementation).eval()


def tiny_finetuned(max_len: int = 32, seed: int = 0) -> finetune.FineTuned:
    """An untrained FineTuned classifier on the tiny encoder, head+tail truncation to max_len."""
    tokenizer, encoder = tiny_encoder(seed=seed)
    config = finetune.FinetuneConfig(max_len=max_len, dropout=0.0, seed=seed)
    torch.manual_seed(seed)
    model = finetune.SentimentClassifier(encoder, 2, config.pooling, config.dropout).eval()
    return finetune.FineTuned(model, tokenizer, config, finetune.History(), 0.0, "tiny")
