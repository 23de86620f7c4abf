"""What a user sees in Chromium: the home page renders, typing updates the tokens, text stays text,
and nothing is requested from outside this machine."""

import urllib.parse

import pytest

pytestmark = pytest.mark.browser


def type_text(visit, text: str) -> None:
    """Type into the shared text box and commit it (a text_area commits on Ctrl+Enter). Callers
    then wait for what the new text must show: the idle marker alone may be read before the
    rerun starts."""
    area = visit.page.get_by_role("textbox", name="Your text: one sentence per line")
    area.fill(text)
    area.press("Control+Enter")


def wait_for_chips(visit, fragment: str, sentence: int = 0) -> None:
    visit.page.wait_for_function(
        """([index, fragment]) => {
            const chips = document.querySelectorAll("[data-testid='token-chips']")[index];
            return chips && chips.innerText.includes(fragment);
        }""",
        arg=[sentence, fragment],
        timeout=60_000,
    )
    visit.settle()


def chips_text(visit) -> list[str]:
    return visit.page.locator("[data-testid='token-chips']").all_inner_texts()


def test_home_page_renders_the_pipeline(visit):
    visit.page.goto(visit.url)
    visit.page.wait_for_selector("[data-testid='token-chips']", timeout=120_000)
    visit.settle()
    page = visit.page
    assert page.get_by_role("heading", name="① Tokenizer: text → tokens → input IDs").is_visible()
    assert page.get_by_role("heading", name="② Model: input IDs → hidden states → head").is_visible()
    # The default checkpoint: the default classifier when built (the test server's cache links
    # the real one), else the bundled encoder with a button that builds the classifier.
    from explorer.pipeline import checkpoints

    if checkpoints.classifier_built():
        header = "③ Postprocessing: logits → softmax → labelled probabilities"
        assert page.locator("[data-testid='probabilities']").count() == 2  # the course's two sentences
    else:
        header = "③ Postprocessing: logits → probabilities"
        assert page.get_by_role("button", name="Build the default classifier").is_visible()
    assert page.get_by_role("heading", name=header).is_visible()
    chips = chips_text(visit)
    assert len(chips) == 2 and "[CLS]" in chips[0] and "waiting" in chips[0]
    assert page.locator("[data-testid='batch-grid']").count() == 1
    assert page.get_by_text("[2, 16, 384]").first.is_visible()  # hidden states (both checkpoints)
    visit.screenshot("home")
    assert visit.outside_requests() == []


def test_the_home_page_s_own_name_opens_it_too(visit):
    """/pipeline, typed by hand or read off the page's title, is the Pipeline page with the link's
    text; Streamlit's "Page not found" dialog showed before."""
    visit.page.goto(f"{visit.url}/pipeline?text=Hello%20world")
    visit.page.wait_for_selector("[data-testid='token-chips']", timeout=120_000)
    visit.settle()
    assert urllib.parse.urlparse(visit.page.url).path == "/pipeline"  # not sent on to "/" as unknown
    assert visit.page.get_by_text("Page not found").count() == 0
    assert visit.page.get_by_role("heading", name="① Tokenizer: text → tokens → input IDs").is_visible()
    assert "hello" in chips_text(visit)[0]
    nav = visit.page.get_by_test_id("stSidebarNav")
    listed = [text.split()[-1] for text in nav.get_by_role("link").all_inner_texts()]
    assert listed.count("Pipeline") == 1  # listed once, not twice


def test_typing_updates_the_tokens(visit):
    visit.page.goto(visit.url)
    visit.page.wait_for_selector("[data-testid='token-chips']", timeout=120_000)
    visit.settle()
    type_text(visit, "Attention is all you need\nTokenizers split words")
    wait_for_chips(visit, "attention")
    chips = chips_text(visit)
    assert len(chips) == 2
    assert "attention" in chips[0] and "token" in chips[1]
    assert "waiting" not in " ".join(chips)
    visit.screenshot("typed")
    assert visit.outside_requests() == []


def test_script_text_is_shown_as_text_and_never_runs(visit):
    visit.page.goto(visit.url)
    visit.settle()
    type_text(visit, "<script>alert('xss')</script>\n<img src=x onerror=\"alert('img')\">")
    wait_for_chips(visit, "script")
    # the sentence itself is printed literally
    assert visit.page.get_by_text("<script>alert('xss')</script>", exact=True).count() >= 1
    assert visit.page.locator("[data-testid='token-chips'] img").count() == 0
    assert visit.dialogs == []
    assert visit.outside_requests() == []


def test_empty_text_shows_a_message_and_the_app_recovers(visit):
    visit.page.goto(visit.url)
    visit.settle()
    type_text(visit, "   ")
    visit.page.get_by_text("The text box is empty").wait_for(timeout=60_000)
    type_text(visit, "Back to work")
    wait_for_chips(visit, "back")
    assert visit.page.get_by_text("Traceback").count() == 0


def test_tokenizer_lab_shows_the_batch_ids_and_attention_mask(visit):
    visit.page.goto(visit.url)
    visit.settle()
    type_text(visit, "Hello world\nTokenizers turn text into numbers")
    wait_for_chips(visit, "hello")
    visit.page.get_by_role("link", name="Tokenizer lab").first.click()
    visit.page.get_by_role("heading", name="Tokenizer lab").wait_for(timeout=60_000)
    wait_for_chips(visit, "token", sentence=1)
    visit.page.get_by_role("tab", name="The batch tensor").click()
    grid = visit.page.locator("[data-testid='batch-grid']")
    grid.wait_for(timeout=30_000)
    rows = grid.locator("tr").all_inner_texts()
    ids = [r for r in rows if r.startswith("input_ids")]
    masks = [r for r in rows if r.startswith("attention_mask")]
    blocks = grid.locator("table").count()  # positions come in blocks that wrap (issue 21)
    assert len(ids) == 2 * blocks and len(masks) == 2 * blocks  # ids[0], ids[1]: the first block
    assert "7592" in ids[0] and "2088" in ids[0]  # hello, world in the MiniLM vocabulary
    assert masks[0].split()[1:].count("0") > 0  # the short sentence is padded
    assert "0" not in masks[1].split()[1:]
    visit.screenshot("tokenizer-batch")
    assert visit.outside_requests() == []


def test_attention_page_draws_heatmap_and_bertviz_offline(visit):
    visit.page.goto(visit.url)
    visit.settle()
    type_text(visit, '</script><b>bold</b> "quotes" <img src=x onerror=alert(1)>')
    wait_for_chips(visit, "bold")
    visit.page.get_by_role("link", name="Attention").first.click()
    visit.page.get_by_role("heading", name="Attention", exact=True).wait_for(timeout=60_000)
    heatmap = visit.page.locator(".js-plotly-plot").first
    heatmap.wait_for(timeout=60_000)
    visit.settle()
    # heatmap tick labels show the user's text literally
    ticks = " ".join(visit.page.locator(".js-plotly-plot").first.locator(".xtick text").all_text_contents())
    assert "<" in ticks and "bold" in ticks
    # bertviz draws its SVG inside the iframe, from inlined libraries
    frame = visit.page.frame_locator("iframe").first
    frame.locator("svg text").first.wait_for(timeout=30_000)
    svg_text = " ".join(frame.locator("svg text").all_text_contents())
    assert "bold" in svg_text and "<" in svg_text
    assert visit.page.locator("img[src='x']").count() == 0
    visit.screenshot("attention")
    assert visit.dialogs == []
    assert visit.outside_requests() == []


def test_a_page_link_works_as_the_first_visit_to_a_fresh_server(browser, fresh_app_url):
    from conftest import Visit

    visit = Visit(browser, fresh_app_url)
    try:
        visit.page.goto(f"{fresh_app_url}/attention")
        visit.page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        visit.settle()
        assert visit.page.get_by_role("heading", name="Attention", exact=True).is_visible()
        assert visit.page.get_by_role("textbox", name="Your text: one sentence per line").is_visible()
        assert (
            visit.page.get_by_text("Traceback").count() == 0
            and visit.page.get_by_text("KeyError").count() == 0
        )
    finally:
        visit.context.close()


def pick_checkpoint(visit, label: str) -> None:
    visit.page.get_by_test_id("stSelectbox").first.click()
    visit.page.get_by_role("option", name=label).click()


def test_classification_with_the_default_classifier(visit):
    visit.page.goto(f"{visit.url}/classification?ckpt=bundled:minilm-l6")  # the encoder, not the default
    visit.page.get_by_text("has no classification head").wait_for(timeout=120_000)
    visit.page.get_by_role("button", name="Use the classifier fine-tuned here (minilm-sentiment)").click()
    visit.page.get_by_text("gives the same labels").wait_for(timeout=60_000)
    visit.settle()
    body = visit.page.locator("[data-testid='stMain']").inner_text()
    assert "→ POSITIVE" in body and "→ NEGATIVE" in body  # the two default sentences
    visit.screenshot("classification")
    assert visit.outside_requests() == []


def test_fine_tune_from_an_uploaded_csv_appears_in_the_picker(visit):
    from pathlib import Path

    visit.page.goto(f"{visit.url}/classification")
    visit.page.get_by_text("Fine-tune a classifier, here and offline").wait_for(timeout=120_000)
    visit.settle()
    visit.page.get_by_text("Upload a CSV").click()
    visit.page.locator("input[type=file]").set_input_files(str(Path(__file__).parent / "small_sentiment.csv"))
    visit.page.get_by_text("training sentences").wait_for(timeout=60_000)
    name = visit.page.get_by_role("textbox", name="Save as")
    name.fill("e2e-small")
    name.press("Enter")
    visit.settle()
    visit.page.get_by_role("button", name="Start fine-tuning").click()
    visit.page.get_by_text("It is in the checkpoint picker now").wait_for(timeout=180_000)
    assert visit.page.get_by_text("Before and after fine-tuning").is_visible()
    visit.page.get_by_role("button", name="Use it now").click()
    # the picked checkpoint's line in the sidebar (the page already showed the default classifier)
    sidebar = visit.page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Fine-tuned here from MiniLM on 16 labelled sentences").wait_for(timeout=60_000)
    visit.page.get_by_text("gives the same labels").wait_for(timeout=60_000)
    visit.screenshot("fine-tuned")
    assert visit.outside_requests() == []


def test_generation_predicts_paris_and_generates(visit):
    visit.page.goto(f"{visit.url}/generation")
    visit.page.get_by_role("button", name="Use SmolLM2-135M-Instruct (bundled)").click()
    visit.page.get_by_role("heading", name="The next token").wait_for(timeout=120_000)
    visit.settle()
    type_text(visit, "The capital of France is")
    visit.page.get_by_text("Most likely next: ␣Paris").wait_for(timeout=120_000)
    visit.settle()
    visit.page.get_by_role("button", name="Next token").click()
    visit.page.get_by_text("⟦ Paris⟧").wait_for(timeout=60_000)
    visit.settle()
    # The logit lens and the causal-mask comparison run when asked for.
    visit.page.get_by_text("Run the logit lens").click()
    visit.page.locator(".js-plotly-plot .gtitle").filter(has_text="Logit lens").first.wait_for(timeout=60_000)
    visit.settle()
    visit.page.get_by_text("Run the comparison (the text through this decoder").click()
    visit.page.locator(".js-plotly-plot .gtitle").filter(has_text="heads averaged").first.wait_for(
        timeout=60_000
    )
    visit.settle()
    assert visit.page.locator(".js-plotly-plot").count() >= 4  # candidates, causal mask x 2, logit lens
    visit.screenshot("generation")
    assert visit.outside_requests() == []


def test_a_shared_link_opens_the_same_view(visit):
    from urllib.parse import urlencode

    query = urlencode(
        {
            "ckpt": "bundled:minilm-l6",
            "text": "The animal didn't cross the street\nit was tired",
            "layer": "3",
            "head": "5",
            "hide_special": "1",
            "bertviz": "off",
        }
    )
    visit.page.goto(f"{visit.url}/attention?{query}")
    visit.page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    visit.settle()
    area = visit.page.get_by_role("textbox", name="Your text: one sentence per line")
    assert area.input_value() == "The animal didn't cross the street\nit was tired"
    title = visit.page.locator(".js-plotly-plot .gtitle").first.text_content()
    assert title == "Layer 3, head 5"
    ticks = visit.page.locator(".js-plotly-plot").first.locator(".xtick text").all_text_contents()
    assert not any("[CLS]" in t for t in ticks)  # hide_special=1
    assert visit.page.frame_locator("iframe").locator("svg").count() == 0  # bertviz off
    # the page's own link carries the same settings
    visit.page.get_by_text("Share this view").click()
    link = visit.page.get_by_test_id("stSidebar").locator("code").inner_text()
    for part in (
        "/attention?",
        "layer=3",
        "head=5",
        "hide_special=1",
        "bertviz=off",
        "ckpt=bundled:minilm-l6",
    ):
        assert part in link, part
    visit.screenshot("shared-link")
    assert visit.outside_requests() == []


def test_a_lesson_walks_from_page_to_page(visit):
    from explorer.app.lessons import LESSON

    steps = len(LESSON)
    visit.page.goto(f"{visit.url}/lessons")
    visit.page.get_by_role("button", name="Start", exact=True).click()
    visit.page.get_by_text(f"Lesson, step 1 of {steps}: Text becomes tokens").wait_for(timeout=120_000)
    visit.settle()
    assert "/tokenizer" in visit.page.url
    assert visit.page.get_by_text("un + ##bel + ##ie + ##va + ##bly").count() == 1  # MiniLM's real split
    for step in (2, 3, 4, 5):
        visit.page.get_by_role("button", name="Next step →").click()
        visit.page.get_by_text(f"Lesson, step {step} of {steps}").wait_for(timeout=60_000)
        visit.settle()
        assert visit.page.get_by_text(
            f"Lesson, step {step} of {steps}: {LESSON[step - 1].title}"
        ).is_visible()
    assert "/model" in visit.page.url
    assert visit.page.get_by_role("heading", name="Inside the model").is_visible()
    visit.screenshot("lesson")
    assert visit.outside_requests() == []
