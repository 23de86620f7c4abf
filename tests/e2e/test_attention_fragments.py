"""The Attention page in Chromium: the layer and head redraw only what depends on them (a fragment),
step by step opens on request and through a link, and bertviz draws a 128-token input whole."""

import re

import pytest

pytestmark = pytest.mark.browser

WORDS = (
    "a tokenizer turns text into numbers that a model can read it first splits the text into pieces "
    "called tokens then looks each one up in a vocabulary"
).split()


def _frame(visit):
    """The bertviz iframe's frame (srcdoc: the only iframe on the page)."""
    visit.page.frame_locator("iframe").first.locator("svg text").first.wait_for(timeout=60_000)
    return next(
        f for f in visit.page.frames if f != visit.page.main_frame and "__explorerDense" in f.content()
    )


def _title(visit, text: str) -> None:
    visit.page.get_by_test_id("stMain").locator(".js-plotly-plot .gtitle").filter(
        has_text=text
    ).first.wait_for(timeout=60_000)


def _choose(visit, label: str, value: int) -> None:
    main = visit.page.get_by_test_id("stMain")
    main.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    visit.page.get_by_role("option", name=str(value), exact=True).click()


def test_attention_layer_change_redraws_the_heatmap_not_bertviz(visit):
    visit.page.goto(f"{visit.url}/attention")
    _title(visit, "Layer 1, head 0")
    visit.settle()
    frame = _frame(visit)
    frame.evaluate("window.__stillHere = true")  # gone if the iframe is drawn again
    _choose(visit, "Layer", 3)
    _title(visit, "Layer 3, head 0")
    visit.settle()
    _choose(visit, "Head", 5)
    _title(visit, "Layer 3, head 5")
    visit.settle()
    assert frame.evaluate("window.__stillHere === true")  # bertviz was not redrawn
    assert re.search(r"[?&]layer=3\b", visit.page.url) and re.search(r"[?&]head=5\b", visit.page.url)
    compared = visit.page.get_by_text("Compared with the attention the model itself returned")
    assert compared.count() == 0  # step by step: not computed yet
    visit.page.get_by_text("Show attention step by step").click()
    visit.page.get_by_text("Layer 3, head 5, sentence 0").wait_for(timeout=60_000)
    visit.settle()
    assert compared.first.is_visible() and "the same" in compared.first.inner_text()
    assert re.search(r"[?&]steps=1\b", visit.page.url)
    linked = visit.context.new_page()  # the link opens the same view, step by step included
    linked.goto(visit.page.url)
    linked.get_by_text("Layer 3, head 5, sentence 0").wait_for(timeout=120_000)
    linked.close()
    assert visit.outside_requests() == []


def test_attention_bertviz_draws_all_128_tokens(visit):
    visit.page.set_viewport_size({"width": 1400, "height": 4200})
    visit.page.goto(f"{visit.url}/attention")
    _title(visit, "Layer 1, head 0")
    visit.settle()
    from transformers import AutoTokenizer

    from explorer.pipeline.checkpoints import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_folder()))  # the default checkpoint's vocabulary
    text = tokenizer.decode(tokenizer(" ".join(WORDS * 10), add_special_tokens=False)["input_ids"][:126])
    assert len(tokenizer(text)["input_ids"]) == 128
    area = visit.page.get_by_role("textbox", name="Your text: one sentence per line")
    area.fill(text)
    area.press("Control+Enter")
    left = visit.page.frame_locator("iframe").first.locator("#left text")
    left.nth(127).wait_for(timeout=60_000)  # every token drawn, no window
    visit.settle()
    frame = _frame(visit)
    assert frame.evaluate("document.querySelectorAll('#left text').length") == 128
    lines = frame.evaluate("document.querySelectorAll('#attention line').length")
    assert 0 < lines < 12 * 128 * 128  # faint lines left out
    caption = visit.page.get_by_text("Lines for weights below 0.02 are left out").first
    assert caption.is_visible()
    visit.page.get_by_role("heading", name="bertviz").scroll_into_view_if_needed()
    visit.screenshot("attention-bertviz-128")
    assert visit.outside_requests() == []
