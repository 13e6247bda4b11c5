"""Attention made visible: bertviz's head and model views that render offline, a token highlight, a heatmap.

Stock bertviz loads require.js, d3 and jQuery from a CDN, so without internet its views show nothing but
"require is not defined". Here the same views get d3 and jQuery inlined from the copies shipped in
`helpers/resources/js` (with their licences), so the HTML needs no network at all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import torch

# The libraries bertviz's views require, as the names its script asks for.
LIBRARIES = {"d3": "d3-5.7.0.min.js", "jquery": "jquery-2.2.4.min.js"}
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>")
_REQUIRE_TAG = re.compile(r"<script[^>]*require\.js[^>]*>\s*</script>", re.IGNORECASE)
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)


def attentions(model, tokenizer, text: str, max_len: int = 128) -> tuple[list[str], tuple[torch.Tensor, ...]]:
    """The tokens of `text` and every layer's attention weights, each (1, heads, T, T).

    The model must use eager attention: SDPA, transformers' default, never materializes the weights.
    """
    implementation = getattr(model.config, "_attn_implementation", None)
    if implementation != "eager":
        raise ValueError(f"The model computes attention with {implementation!r}, which returns no weights. "
                         "Load it with attn_implementation='eager' "
                         "(or call model.set_attn_implementation('eager')).")
    encoded = tokenizer(text, truncation=True, max_length=max_len, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        output = model(**encoded.to(model.device), output_attentions=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    return tokens, tuple(a.cpu() for a in output.attentions)


def _library(name: str) -> str:
    """The text of a vendored JavaScript library."""
    return resources.files("helpers").joinpath("resources", "js", LIBRARIES[name]).read_text(encoding="utf-8")


def _offline_script() -> str:
    """JavaScript that defines d3 and jQuery locally and a `requirejs` that hands them to bertviz's callback.

    d3 and jQuery are UMD bundles: with `define`, `module` and `exports` shadowed they attach to the object
    they are called on (d3) or to window (jQuery, taken back at once with noConflict), so nothing leaks into
    the page and a notebook's own require.js (classic Jupyter) never sees an anonymous module.
    """
    return (
        "var libs = {};\n"
        f"(function (define, module, exports) {{\n{_library('d3')}\n}}).call(libs);\n"
        f"(function (define, module, exports) {{\n{_library('jquery')}\n}}).call(window);\n"
        "libs.jquery = window.jQuery.noConflict(true);\n"
        "function requirejs(names, callback) {\n"
        "  callback.apply(null, names.map(function (name) { return libs[name]; }));\n"
        "}\n"
    )


def offline_html(bertviz_html: str) -> str:
    """bertviz's view HTML made self-contained: no require.js tag, no CDN paths, d3 and jQuery inlined."""
    if "requirejs(" not in bertviz_html:
        raise ValueError("This is not a bertviz view: its script should call requirejs([...], function ...).")
    body = _REQUIRE_TAG.sub("", bertviz_html)
    body = _REQUIRE_CONFIG.sub("", body)
    opening = '<script type="text/javascript">'
    if opening not in body:
        raise ValueError("Could not find the view's script in the bertviz HTML.")
    # bertviz's own script runs in a function that sees our requirejs and libraries, and nothing else does.
    body = body.replace(opening, f"{opening}\n(function () {{\n{_offline_script()}", 1)
    head, tail = body.rsplit("</script>", 1)
    return f"{head}\n}})();\n</script>{tail}"


def _rounded(attention: Sequence[torch.Tensor], decimals: int = 3) -> list[torch.Tensor]:
    """Attention rounded (in float64, so JSON prints 0.123, not 0.12300000339746475): a view 5x smaller."""
    return [torch.round(a.double(), decimals=decimals) for a in attention]


def _bertviz():
    try:
        import bertviz
    except ImportError as error:
        raise ImportError("The attention views need bertviz: pip install 'pytorch-nlp-course[viz]' "
                          "(or pip install bertviz).") from error
    return bertviz


def _html(text: str):
    from IPython.display import HTML

    return HTML(text)


def head_view(attention: Sequence[torch.Tensor], tokens: list[str], layer: int | None = None,
              heads: list[int] | None = None):
    """bertviz's head view (one layer, lines from each token to the tokens it attends to), offline."""
    view = _bertviz().head_view(_rounded(attention), tokens, layer=layer, heads=heads, html_action="return")
    return _html(offline_html(view.data))


def model_view(attention: Sequence[torch.Tensor], tokens: list[str], include_layers: list[int] | None = None,
               include_heads: list[int] | None = None):
    """bertviz's model view (a thumbnail of every layer and head), offline."""
    view = _bertviz().model_view(_rounded(attention), tokens, include_layers=include_layers,
                                 include_heads=include_heads, html_action="return")
    return _html(offline_html(view.data))


def write_page(view, path: str | Path) -> Path:
    """Save a view as a standalone HTML page (open it in any browser, no network needed)."""
    path = Path(path)
    body = getattr(view, "data", view)
    path.write_text(f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>attention</title></head>\n'
                    f"<body>\n{body}\n</body></html>\n", encoding="utf-8")
    return path


def attention_received(attention: Sequence[torch.Tensor], layer: int = -1,
                       from_token: int | None = 0) -> torch.Tensor:
    """How much attention each token gets in `layer`, averaged over heads: (T,).

    From `from_token` ([CLS] by default), or with `from_token=None` averaged over every position: the weight
    of each token in the mean of the layer's attention outputs, which is what a mean-pooling head reads.

    >>> a = torch.tensor([[[[0.5, 0.5], [0.0, 1.0]], [[0.1, 0.9], [1.0, 0.0]]]])  # (1, heads=2, T=2, T=2)
    >>> attention_received([a]).tolist()
    [0.30000001192092896, 0.699999988079071]
    >>> attention_received([a], from_token=None).tolist()
    [0.4000000059604645, 0.6000000238418579]
    """
    rows = attention[layer][0]  # (heads, T, T): queries, keys
    if from_token is None:
        return rows.mean((0, 1))  # (T,)
    return rows[:, from_token, :].mean(0)  # (heads, T) -> (T,)


def token_highlight(tokens: list[str], weights: torch.Tensor | Sequence[float],
                    special: Sequence[str] = SPECIAL_TOKENS):
    """Plain HTML (no script: renders on GitHub and Colab too): each token shaded by its weight.

    Special tokens are shown but left unshaded, and shades are scaled to the largest other weight,
    because [CLS] and [SEP] soak up much of the attention without carrying meaning.
    """
    weights = [float(w) for w in weights]
    if len(weights) != len(tokens):
        raise ValueError(f"{len(tokens)} tokens but {len(weights)} weights: give one weight per token.")
    scale = max((w for t, w in zip(tokens, weights) if t not in special), default=0.0) or 1.0
    spans = []
    for token, weight in zip(tokens, weights):
        alpha = 0.0 if token in special else min(weight / scale, 1.0)
        text = token[2:] if token.startswith("##") else token
        gap = "" if token.startswith("##") else " "  # word pieces join their word, as the tokenizer split it
        spans.append(f'{gap}<span title="{weight:.3f}" '
                     f'style="background-color: rgba(230, 97, 0, {alpha:.2f}); '
                     f'border-radius: 3px; padding: 1px 1px">{html.escape(text)}</span>')
    return _html('<div style="line-height: 2; font-family: sans-serif">' + "".join(spans).strip() + "</div>")


def attention_heatmap(attention: Sequence[torch.Tensor], tokens: list[str], layer: int = -1,
                      head: int | None = None, ax=None, query_tokens: list[str] | None = None):
    """Seaborn heatmap of a layer's attention (a head, or the mean of all heads): rows attend to columns.

    Self-attention by default; for cross-attention, `tokens` are the keys (columns) and `query_tokens` the
    queries (rows).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    query_tokens = tokens if query_tokens is None else query_tokens
    weights = attention[layer][0]  # (heads, T, S)
    weights = weights.mean(0) if head is None else weights[head]  # (T, S)
    if weights.shape != (len(query_tokens), len(tokens)):
        raise ValueError(f"Weights of shape {tuple(weights.shape)} need {weights.shape[0]} query tokens and "
                         f"{weights.shape[1]} key tokens, got {len(query_tokens)} and {len(tokens)}.")
    if ax is None:
        size = min(12.0, 2.0 + 0.3 * len(tokens))
        _, ax = plt.subplots(figsize=(size, size * 0.85))
    sns.heatmap(weights.numpy(), xticklabels=tokens, yticklabels=query_tokens, cmap="viridis",
                square=query_tokens is tokens, ax=ax, cbar_kws={"label": "attention weight", "shrink": 0.7})
    which = "mean of all heads" if head is None else f"head {head}"
    ax.set(title=f"layer {layer % len(attention)}, {which}", xlabel="attends to (key)",
           ylabel="token (query)")
    return ax
