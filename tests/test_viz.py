import hashlib
import re
import shutil
import subprocess
import tomllib
from importlib import resources
from pathlib import Path

import pytest
import torch

from helpers import viz
from tiny import tiny_encoder

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "helpers" / "resources" / "js"
TEXT = "The plot was not bad at all, but the acting was dreadful."
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def attention():
    tokenizer, encoder = tiny_encoder()
    return viz.attentions(encoder, tokenizer, TEXT)


def test_vendored_libraries_are_the_packages_own_with_their_licences():
    readme = (JS / "README.md").read_text()
    for name, filename in viz.LIBRARIES.items():
        digest = hashlib.sha256((JS / filename).read_bytes()).hexdigest()
        assert f"`{filename}`" in readme and digest in readme, f"{filename}: hash differs from the README's"
        assert list(JS.glob(filename.removesuffix(".min.js") + ".LICENSE*")), (
            f"{name} needs its licence beside it")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "resources/js/*" in package_data["helpers"], "the wheel must carry the JavaScript"
    assert resources.files("helpers").joinpath("resources", "js", viz.LIBRARIES["d3"]).is_file()


def test_attentions_need_eager_attention():
    tokenizer, encoder = tiny_encoder(attn_implementation="sdpa")
    with pytest.raises(ValueError, match="attn_implementation='eager'"):
        viz.attentions(encoder, tokenizer, TEXT)


def test_attentions_have_one_row_per_token_that_sums_to_one(attention):
    tokens, layers = attention
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "dreadful" in tokens
    assert len(layers) == 2 and layers[0].shape == (1, 2, len(tokens), len(tokens))
    torch.testing.assert_close(layers[-1].sum(-1), torch.ones(1, 2, len(tokens)))


@pytest.mark.parametrize("view", [viz.head_view, viz.model_view])
def test_views_reference_no_cdn_and_inline_the_libraries(attention, view):
    html = view(attention[1], attention[0]).data
    assert not re.search(r"<script[^>]*\bsrc=", html), "a script loaded from elsewhere"
    assert "cdnjs" not in html and "require.config" not in html and "require.min.js" not in html
    assert "d3js.org v5.7.0" in html and "jQuery v2.2.4" in html


def test_stock_bertviz_html_is_what_we_fix(attention):
    bertviz = pytest.importorskip("bertviz")
    stock = bertviz.head_view(attention[1], attention[0], html_action="return").data
    assert "cdnjs" in stock  # the reason for this module; if bertviz stops using a CDN, revisit
    assert "cdnjs" not in viz.offline_html(stock)
    with pytest.raises(ValueError, match="not a bertviz view"):
        viz.offline_html("<div>hello</div>")


def _rendered(page: Path) -> str:
    """The DOM after load in headless Chromium with every host unresolvable (so: offline)."""
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    return result.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium to render the page in (CI installs it)")
def test_views_render_offline_in_a_browser(attention, tmp_path):
    bertviz = pytest.importorskip("bertviz")
    tokens, layers = attention
    offline = _rendered(viz.write_page(viz.head_view(layers, tokens), tmp_path / "head.html"))
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", offline)
    assert "<svg" in offline and {"dreadful", "[CLS]"} <= set(labels), "the head view drew no tokens"
    model = _rendered(viz.write_page(viz.model_view(layers, tokens), tmp_path / "model.html"))
    assert model.count("<svg") >= 1 and model.count("<rect") >= 4, "the model view drew no thumbnails"
    stock = bertviz.head_view(layers, tokens, html_action="return").data
    assert "<text" not in _rendered(viz.write_page(stock, tmp_path / "stock.html")), (
        "stock bertviz needs a CDN")


def test_attention_received_reads_the_cls_row_or_every_row(attention):
    tokens, layers = attention
    received = viz.attention_received(layers, layer=0)
    torch.testing.assert_close(received, layers[0][0, :, 0].mean(0))
    assert received.shape == (len(tokens),)
    from_all = viz.attention_received(layers, layer=0, from_token=None)  # what a mean-pooling head reads
    torch.testing.assert_close(from_all, layers[0][0].mean((0, 1)))
    assert from_all.sum().item() == pytest.approx(1.0)


def test_token_highlight_is_plain_escaped_html():
    html = viz.token_highlight(["[CLS]", "<b>", "good", "##ish", "[SEP]"], [0.9, 0.1, 0.4, 0.2, 0.8]).data
    assert "<script" not in html and "&lt;b&gt;" in html
    assert re.search(r"rgba\(230, 97, 0, 1\.00\)[^>]*>good<", html), "the largest weight gets the full shade"
    assert "rgba(230, 97, 0, 0.00)" in html  # special tokens stay unshaded
    assert ">good</span><span" in html and ">ish<" in html  # a word piece joins its word
    with pytest.raises(ValueError, match="one weight per token"):
        viz.token_highlight(["a", "b"], [0.5])


def test_heatmap_labels_rows_and_columns_with_tokens(attention):
    import matplotlib

    matplotlib.use("Agg")
    tokens, layers = attention
    ax = viz.attention_heatmap(layers, tokens, layer=1, head=0)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert "layer 1, head 0" in ax.get_title()
    matplotlib.pyplot.close("all")


def test_heatmap_of_cross_attention_labels_queries_and_keys_apart():
    import matplotlib

    matplotlib.use("Agg")
    weights = [torch.randn(1, 2, 3, 4).softmax(-1)]  # one layer, 2 heads, 3 queries over 4 keys
    ax = viz.attention_heatmap(weights, ["a", "b", "c", "d"], head=1, query_tokens=["x", "y", "z"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c", "d"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "z"]
    with pytest.raises(ValueError, match="3 query tokens and 4 key tokens"):
        viz.attention_heatmap(weights, ["a", "b", "c", "d"])
    matplotlib.pyplot.close("all")
