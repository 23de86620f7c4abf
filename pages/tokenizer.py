"""Tokenizer lab: the first step of the pipeline, made visible for the shared text and checkpoint."""

import pandas as pd
import streamlit as st

from explorer import checkpoints, ui
from explorer import tokenizer_lab as lab
from explorer.encoding import encode_batch
from explorer.errors import ExplorerError, InputError
from explorer.render import batch_grid_html, plain_chips_html, token_chips_html, visible

st.title("Tokenizer lab")
st.markdown(
    "The tokenizer turns text into the numbers a model reads: it splits the text into **tokens**, "
    "maps each to an **input ID**, adds **special tokens**, and pads and truncates a batch into one tensor."
)

selection = ui.selection()

with st.expander("Sentence pairs (a second sentence for each line)", expanded=False):
    pairs_text = st.text_area(
        "Second sentences: line N pairs with line N of the text box",
        key="tok.pairs",
        height=100,
        help="For tasks on two sentences (question + passage, premise + hypothesis). Leave empty for single sentences.",
    )
st.subheader("Batch settings")
columns = st.columns(4)
padding = columns[0].selectbox(
    "padding", ["longest", "max_length", "do_not_pad"], key="tok.padding", help="tokenizer(..., padding=...)"
)
truncation = columns[1].toggle("truncation", value=True, key="tok.truncation")
side = columns[3].radio("padding side", ["right", "left"], key="tok.side", horizontal=True)

try:
    sentences = ui.read_sentences(selection.text)
    loaded = ui.load(selection.ref)
    max_length = columns[2].number_input(
        "max_length",
        min_value=2,
        max_value=8192,
        value=loaded.max_tokens,
        step=1,
        key=f"tok.max_length.{selection.ref}",
        help=f"This model takes at most {loaded.max_tokens} tokens.",
    )
    pairs = None
    if pairs_text.strip():
        pair_lines = [line for line in pairs_text.split("\n") if line.strip()]
        if len(pair_lines) != len(sentences.sentences):
            raise InputError(
                f"Pairs need one second sentence per sentence: the text box has {len(sentences.sentences)} "
                f"sentence(s) and the pair box {len(pair_lines)}."
            )
        pairs = pair_lines
    tokenizer = loaded.batch_tokenizer
    encoding = encode_batch(
        tokenizer,
        sentences.sentences,
        pairs,
        padding=padding,
        truncation=truncation,
        max_length=int(max_length),
        padding_side=side,
    )
except ExplorerError as problem:
    ui.show_error(problem)
    ui.stop()

for note in sentences.notes():
    st.info(note)
if int(max_length) > loaded.max_tokens:
    st.warning(
        f"max_length {int(max_length)} is above this model's limit of {loaded.max_tokens} tokens: the "
        "tokenizer will do it, but the model could not take such a batch."
    )
if loaded.pad_note:
    st.caption(loaded.pad_note)

scheme = lab.subword_scheme(loaded.tokenizer)
tab_tokens, tab_steps, tab_batch, tab_families = st.tabs(
    ["Tokens", "Step by step", "The batch tensor", "Tokenizer families"]
)

with tab_tokens:
    st.markdown(f"**{loaded.resolved.label}** uses **{scheme.algorithm}**. {scheme.explanation}")
    specials = lab.special_tokens(loaded.tokenizer)
    if specials:
        st.markdown("**Special tokens** (yellow chips) of this tokenizer:")
        st.table(
            pd.DataFrame(
                [
                    {"role": s.role, "token": s.token, "id": s.token_id, "what it is for": s.meaning}
                    for s in specials
                ]
            ).set_index("role")
        )
    st.markdown(
        "Hover a chip for its position, ID and the characters it covers. Red chips are unknown tokens; "
        "a dotted chip counts the tokens truncation cut."
    )
    unk_id = loaded.tokenizer.unk_token_id
    for b, sentence in enumerate(encoding.sentences):
        st.markdown(f"**Sentence {b}** · {int(encoding.lengths[b])} tokens")
        st.text(sentence if len(sentence) <= 300 else sentence[:300] + f"… ({len(sentence):,} characters)")
        if pairs:
            st.text(f"pair: {pairs[b]}")
        st.html(token_chips_html(encoding, b, unk_id=unk_id))
        if encoding.truncated[b]:
            st.warning(
                f"Truncation cut {encoding.truncated[b]:,} token(s) from sentence {b} (max_length {int(max_length)})."
            )

with tab_steps:
    index = st.selectbox(
        "Sentence",
        range(len(encoding.sentences)),
        format_func=lambda i: f"{i}: {encoding.sentences[i][:60]}",
        key="tok.step_sentence",
    )
    steps = lab.tokenizer_steps(loaded.tokenizer, encoding.sentences[index])
    st.markdown("**1. Split into tokens:** `tokens = tokenizer.tokenize(text)`")
    st.html(plain_chips_html(steps.tokens, unknown=(loaded.tokenizer.unk_token or "",)))
    st.markdown("**2. Look up their IDs:** `ids = tokenizer.convert_tokens_to_ids(tokens)`")
    st.code(str(list(steps.ids)), language=None, wrap_lines=True)
    st.markdown('**3. Add the special tokens:** `tokenizer(text)["input_ids"]`')
    st.code(str(list(steps.ids_with_specials)), language=None, wrap_lines=True)
    if steps.added:
        st.markdown("Added: " + ", ".join(f"`{visible(t)}`" for t in steps.added))
    else:
        st.markdown("This tokenizer adds no special tokens to a single sentence.")
    st.markdown("**4. Decode back to text:** `tokenizer.decode(ids)`")
    st.code(steps.decoded, language=None, wrap_lines=True)
    st.markdown("and with `skip_special_tokens=True`:")
    st.code(steps.decoded_plain, language=None, wrap_lines=True)
    if steps.exact:
        st.success("Decoding gives back exactly the text you typed.")
    else:
        st.warning(
            "Decoding does not give back exactly the text you typed:\n\n"
            + "\n".join(f"- {r}" for r in steps.why_not_exact)
        )

with tab_batch:
    B, S = encoding.shape
    if encoding.padded:
        st.markdown(
            f"**input_ids shape [{B}, {S}]** · padding=`{padding}`, side=`{side}`, pad token `{encoding.pad_token}` (id {encoding.pad_token_id})"
        )
    else:
        st.markdown(
            f"**No padding:** the {B} rows keep their own lengths ({', '.join(str(int(n)) for n in encoding.lengths)} "
            'tokens), so they cannot be stacked into one tensor; `return_tensors="pt"` would fail.'
        )
    if encoding.token_type_ids is None:
        st.info(
            "This model has no token_type_ids: "
            + (
                "the two sentences of a pair are told apart only by the separator tokens."
                if pairs
                else "it does not use segment IDs."
            )
        )
    elif pairs:
        st.markdown("`token_type_ids` are **0** for the first sentence's tokens and **1** for the second's.")
    st.html(batch_grid_html(encoding))
    cut = sum(encoding.truncated)
    if cut:
        st.warning(f"Truncation cut {cut:,} token(s) in all.")
    downloads = st.columns(2)
    downloads[0].download_button(
        "Download the encoding (JSON)",
        lambda: lab.encoding_json(encoding),
        file_name="encoding.json",
        mime="application/json",
        key="tok.download_json",
    )
    downloads[1].download_button(
        "Download the batch grid (CSV)",
        lambda: lab.batch_csv(encoding),
        file_name="batch.csv",
        mime="text/csv",
        key="tok.download_csv",
    )

with tab_families:
    st.markdown(
        "The same text through different kinds of tokenizer. Word- and character-based vocabularies, and "
        "the small BPE, WordPiece and Unigram tokenizers, are built here from a training text; WordPiece "
        "and byte-level BPE also come from the two bundled checkpoints."
    )
    family_text = st.text_input(
        "Text to tokenize", value="Tokenization of transformerification", key="tok.family_text"
    )
    own_corpus = st.text_area(
        "Training text (leave empty for the sample text written for this app)", key="tok.corpus", height=90
    )
    corpus = own_corpus.strip()[:200_000] or lab.sample_corpus()
    vocab_size = st.select_slider(
        "Vocabulary size of the trained tokenizers", [100, 300, 1000, 3000], value=300, key="tok.vocab"
    )
    if not family_text.strip():
        st.info("Type a text to compare the tokenizers.")
    else:
        try:
            results = [lab.word_family(family_text, corpus), lab.character_family(family_text, corpus)]
            for kind in ("WordPiece", "BPE", "Unigram"):
                results.append(
                    lab.trained_family(kind, ui.trained_tokenizer(kind, corpus, vocab_size), family_text)
                )
            results.append(
                lab.pretrained_family(
                    "WordPiece (bundled MiniLM)",
                    "all-MiniLM-L6-v2",
                    ui.tokenizer(checkpoints.MINILM),
                    family_text,
                )
            )
            results.append(
                lab.pretrained_family(
                    "byte-level BPE (bundled SmolLM2)",
                    "SmolLM2-135M-Instruct",
                    ui.tokenizer(checkpoints.SMOLLM2),
                    family_text,
                )
            )
        except ExplorerError as problem:
            ui.show_error(problem)
            results = []
        except Exception as problem:  # a training text the trainers cannot use
            ui.show_error(f"Could not train on that text: {problem}")
            results = []
        for result in results:
            st.markdown(
                f"**{result.family}** · vocabulary {result.vocab_size:,} · {len(result.tokens)} tokens"
                + (f" · {result.unknown} unknown" if result.unknown else "")
            )
            st.html(plain_chips_html(result.tokens))
        st.subheader("How the vocabulary size changes the splits")
        rows = []
        for kind in ("BPE", "WordPiece", "Unigram"):
            for size in (100, 300, 1000, 3000):
                trained = ui.trained_tokenizer(kind, corpus, size)
                tokens = trained.encode(family_text).tokens
                rows.append(
                    {
                        "tokenizer": kind,
                        "asked vocabulary": size,
                        "actual vocabulary": trained.get_vocab_size(),
                        "tokens": len(tokens),
                        "split": " ".join(tokens),
                    }
                )
        st.table(pd.DataFrame(rows).set_index(["tokenizer", "asked vocabulary"]))
        st.caption(
            "A small training text cannot fill a large vocabulary: the actual size stops where the text runs out of merges."
        )
