"""AppTest for the Generation page."""

from app_helpers import messages_of, rerun, start

from explorer import ui
from explorer.pipeline import checkpoints

PAGE = "pages/generation.py"


def open_page(text=None, ref=None):
    at = start(text=text, ref=ref)
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_encoder_is_pointed_to_the_bundled_decoder():
    at = open_page()
    assert "is not a causal language model" in messages_of(at)
    assert "has no masked-LM head" in messages_of(at)
    assert "with this checkpoint's tokenizer" in markdown(at)  # MiniLM has a [MASK] token


def test_decoder_predicts_and_generates_step_by_step():
    at = open_page(text="The capital of France is", ref=checkpoints.SMOLLM2)
    assert "Most likely next: **`␣Paris`**" in markdown(at)  # the space shown as ␣ (token_display)
    at.button(key="gen.next").click().run()
    assert not at.exception
    assert any("⟦ Paris⟧" in c.value for c in at.code)
    assert "shown with MiniLM's tokenizer" in markdown(at)  # SmolLM2 has no mask token
    tables = "\n".join(t.value.to_string() for t in at.table)
    assert "␣Paris" in tables
    titles = [chart.proto.spec for chart in at.get("plotly_chart")]
    # The logit lens and the causal-mask comparison run only when asked for.
    assert not any("Logit lens" in spec for spec in titles) and not any(
        "LlamaForCausalLM" in spec for spec in titles
    )
    at.toggle(key="gen.lens").set_value(True)
    at.toggle(key="gen.compare").set_value(True).run()
    assert not at.exception
    titles = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert any("Logit lens" in spec for spec in titles) and any("LlamaForCausalLM" in spec for spec in titles)
    assert any("⟦ Paris⟧" in c.value for c in at.code)  # the steps are kept
    at.button(key="gen.reset").click().run()
    assert not any("⟦" in c.value for c in at.code)


def test_chat_template_is_shown_when_applied():
    at = open_page(text="What is the capital of France?", ref=checkpoints.SMOLLM2)
    at.toggle(key="gen.chat").set_value(True).run()
    assert not at.exception
    assert any("<|im_start|>assistant" in c.value for c in at.code)


def test_fill_mask_on_a_masked_language_model(tiny_mlm_dir):
    at = start(text="attention lets every [MASK] look", ref=checkpoints.LOCAL_FOLDER.ref)
    at.text_input(key=ui.FOLDER_KEY).input(str(tiny_mlm_dir))
    rerun(at)
    at.switch_page(PAGE).run()
    assert not at.exception
    assert "Sentence 0, position 4:" in markdown(at)
