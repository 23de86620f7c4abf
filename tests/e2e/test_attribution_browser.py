"""'Why this prediction?' in Chromium: a shared link opens the Classification page with the section on,
every method's chips drawn, the completeness check shown, and changing the method updates the link."""

from urllib.parse import parse_qs, quote, urlparse

import pytest

pytestmark = pytest.mark.browser

SENTENCE = "The film was not bad at all."


def test_a_link_opens_the_attributions_and_keeps_method_and_target(visit):
    from explorer.pipeline import checkpoints

    if not checkpoints.classifier_built():
        pytest.skip("the default classifier is built by `make models`")
    page = visit.page
    page.goto(
        f"{visit.url}/classification?ckpt={quote(checkpoints.CLASSIFIER, safe=':')}&text={quote(SENTENCE)}"
        "&why=true&target=POSITIVE&method=Occlusion"
    )
    page.wait_for_selector("[data-testid='attribution-chips']", timeout=300_000)
    visit.settle(300_000)
    rows = page.locator("[data-testid='attribution-chips']")
    assert rows.count() == 5
    # The link's method comes first, its target is the one explained.
    assert rows.first.get_attribute("aria-label") == "Occlusion"
    assert page.get_by_text("Explaining the label POSITIVE").first.is_visible()
    assert "not" in rows.first.inner_text() and "bad" in rows.first.inner_text()
    assert page.get_by_text("Completeness: the Integrated Gradients add up to").first.is_visible()
    assert page.get_by_text("relative error").first.is_visible()
    assert page.get_by_role("button", name="Download the attributions (CSV)").is_visible()
    assert page.get_by_role("button", name="Download the attributions (JSON)").is_visible()
    visit.screenshot("attributions")

    page.get_by_text("Gradient × input", exact=True).first.click()
    page.wait_for_function(
        """() => document.querySelector("[data-testid='attribution-chips']")
            ?.getAttribute("aria-label") === "Gradient × input" """,
        timeout=120_000,
    )
    visit.settle(300_000)
    query = parse_qs(urlparse(page.url).query)
    assert query.get("method") == ["Gradient × input"] and query.get("target") == ["POSITIVE"]
    assert visit.outside_requests() == []
