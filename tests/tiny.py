"""A tiny random BERT classifier with the offline model's tokenizer: real code paths, seconds to run."""

from __future__ import annotations

import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from helpers import models


def tiny_classifier(attn_implementation: str = "eager", seed: int = 0):
    """(tokenizer, model): 2 layers, 2 heads, width 32, no dropout (so runs repeat exactly)."""
    tokenizer = AutoTokenizer.from_pretrained(models.offline_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=2, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = BertForSequenceClassification._from_config(config, attn_implementation=attn_implementation)
    return tokenizer, model.eval()
