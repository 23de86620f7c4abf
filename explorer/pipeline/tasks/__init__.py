"""The tasks the course names, and which one a checkpoint does: chosen from its head, here only.

As transformers' ``pipelines/<task>.py``, each task has a module in this package
(``feature_extraction``, ``token_classification``, ``zero_shot``, ``question_answering``,
``multiple_choice``, …) with its inputs, preprocess, the forward pass (through ``explorer.pipeline.run``),
a pure-NumPy postprocess (probabilities through ``explorer.pipeline.postprocess``) and its check against
the library's pipeline where one exists, returning frozen records; ``explorer.views.tasks.<module>``
says and draws them (step ③ of the Pipeline page).

This file is the registry: no torch, no transformers, no task module imported. Everything that
asks "which head does this checkpoint have?" reads :func:`head_class_for` / :func:`task_for`, and
compares head classes with the constants below, never with a string literal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The Auto classes that load each head (transformers' names).
BASE = "AutoModel"
SEQUENCE_CLASSIFICATION = "AutoModelForSequenceClassification"
CAUSAL_LM = "AutoModelForCausalLM"
MASKED_LM = "AutoModelForMaskedLM"
SEQ2SEQ_LM = "AutoModelForSeq2SeqLM"
TOKEN_CLASSIFICATION = "AutoModelForTokenClassification"
QUESTION_ANSWERING = "AutoModelForQuestionAnswering"
MULTIPLE_CHOICE = "AutoModelForMultipleChoice"


@dataclass(frozen=True, kw_only=True)
class Task:
    """One task of the course: the head that does it and the pipeline that runs it."""

    name: str  # the pipeline's task name, e.g. "token-classification"
    title: str  # on screen, e.g. "Token classification (NER)"
    head: str  # the Auto class that loads the head, e.g. AutoModelForTokenClassification
    suffixes: tuple[str, ...]  # config.architectures[0] endings that mean this head
    head_description: str  # what the head adds to the base model, in one phrase
    # transformers 5's pipeline for it: the name, or None when version 5 has none (removed or never)
    pipeline: str | None
    removed_in_v5: bool = False  # the course's transformers 4 pipeline that version 5 removed
    # The Pipeline page's settings this task reads (fields of explorer.views.pipeline.Settings):
    # its widgets are drawn in step ③ and a shared link carries them.
    inputs: tuple[str, ...] = ()
    # explorer.pipeline.tasks.<module> computes its section of step ③, explorer.views.tasks.<module>
    # builds it ("" = none yet)
    module: str = ""
    step_title: str = ""  # step ③'s title for this task ("" = the Pipeline view names the function)
    # What the model is, said beside the course's first example (which classifies sentences)
    instead: str = ""


FEATURE_EXTRACTION = Task(
    name="feature-extraction",
    title="Feature extraction (sentence embeddings)",
    head=BASE,
    suffixes=(),
    head_description="no task head: returns hidden states, one vector per token",
    pipeline="feature-extraction",
    inputs=("labels",),  # the embedding way of zero-shot: cosine between sentence and label
    module="feature_extraction",
    step_title="③ Postprocessing: token vectors → pooling → sentence embeddings",
    instead=(
        "a model with no classification head (no task head at all): instead of labels, step ③ pools "
        "its token vectors into one vector per sentence (feature extraction), and those vectors can be "
        "compared with each other"
    ),
)
TEXT_CLASSIFICATION = Task(
    name="text-classification",
    title="Text classification",
    head=SEQUENCE_CLASSIFICATION,
    suffixes=("ForSequenceClassification",),
    head_description="a classification head: one logit per label per sentence",
    pipeline="text-classification",
)
ZERO_SHOT = Task(
    name="zero-shot-classification",
    title="Zero-shot classification",
    head=SEQUENCE_CLASSIFICATION,
    suffixes=(),  # an NLI classifier (entailment among its labels): see task_for
    head_description=(
        "a natural-language-inference head: one logit per relation (entailment, neutral, "
        "contradiction) per sentence pair"
    ),
    pipeline="zero-shot-classification",
    inputs=("labels", "template", "multi_label"),
    module="zero_shot",
    step_title="③ Postprocessing: entailment logits → softmax → labels you name",
    instead=(
        "a natural-language-inference model: it reads sentence pairs; as zero-shot classification it "
        "labels your sentences with any labels you name (below)"
    ),
)
TEXT_GENERATION = Task(
    name="text-generation",
    title="Text generation",
    head=CAUSAL_LM,
    suffixes=("ForCausalLM", "LMHeadModel"),
    head_description="a causal language-model head: scores for the next token at each position",
    pipeline="text-generation",
    instead=(
        "a language model, not a classifier: it gives the probabilities of the next token after each "
        "sentence instead of labels"
    ),
)
FILL_MASK = Task(
    name="fill-mask",
    title="Fill-mask",
    head=MASKED_LM,
    suffixes=("ForMaskedLM",),
    head_description="a masked language-model head: scores for the hidden word at each position",
    pipeline="fill-mask",
    instead="a masked language model, not a classifier: it guesses hidden words instead of labelling sentences",
)
TEXT2TEXT = Task(
    name="text2text-generation",
    title="Text-to-text generation (translation, summarization)",
    head=SEQ2SEQ_LM,
    suffixes=("ForConditionalGeneration",),
    head_description=(
        "an encoder-decoder with a language-model head: the encoder reads the text, the decoder "
        "scores the next output token at each of its positions"
    ),
    pipeline=None,
    removed_in_v5=True,
    instead=(
        "an encoder-decoder, not a classifier: its decoder writes text (below) instead of labelling sentences"
    ),
)
TOKEN_CLASSIFICATION_TASK = Task(
    name="token-classification",
    title="Token classification (NER)",
    head=TOKEN_CLASSIFICATION,
    suffixes=("ForTokenClassification",),
    head_description="a token-classification head: one logit per label per token",
    pipeline="token-classification",
    inputs=("aggregation",),
    module="token_classification",
    step_title="③ Postprocessing: token logits → softmax → labels per token → entities",
    instead="a token classifier: it labels each token (entities such as names and places), not each sentence",
)
QUESTION_ANSWERING_TASK = Task(
    name="question-answering",
    title="Question answering (extractive)",
    head=QUESTION_ANSWERING,
    suffixes=("ForQuestionAnswering",),
    head_description=(
        "a question-answering head: two logits per token, for the answer starting there and ending there"
    ),
    pipeline=None,
    removed_in_v5=True,
    inputs=("question",),
    module="question_answering",
    step_title="③ Postprocessing: start and end logits → softmax → the answer span",
    instead="a question-answering model: it finds the answer to a question in your text (below)",
)
MULTIPLE_CHOICE_TASK = Task(
    name="multiple-choice",
    title="Multiple choice",
    head=MULTIPLE_CHOICE,
    suffixes=("ForMultipleChoice",),
    head_description="a multiple-choice head: one logit per (prompt, choice) pair, compared across choices",
    pipeline=None,
    inputs=("choices",),
    module="multiple_choice",
    step_title="③ Postprocessing: one logit per choice → softmax over the choices",
    instead="a multiple-choice model: it scores choices as continuations of each sentence (below)",
)

# In the order heads are matched: the first task whose suffix ends config.architectures[i] wins.
TASKS: tuple[Task, ...] = (
    TEXT_CLASSIFICATION,
    TEXT_GENERATION,
    FILL_MASK,
    TEXT2TEXT,
    TOKEN_CLASSIFICATION_TASK,
    QUESTION_ANSWERING_TASK,
    MULTIPLE_CHOICE_TASK,
    ZERO_SHOT,
    FEATURE_EXTRACTION,
)
HEAD_DESCRIPTIONS: dict[str, str] = {
    task.head: task.head_description for task in TASKS if task is not ZERO_SHOT
}
# Label names an NLI head uses for "the premise entails the hypothesis" (pipeline's own rule:
# the label whose name starts with "entail").
ENTAILMENT_PREFIX = "entail"


def head_class_for(architectures: list[str] | None) -> str:
    """The Auto class for the head named by ``config.architectures`` (AutoModel if none fits)."""
    for architecture in architectures or []:
        for task in TASKS:
            if any(architecture.endswith(suffix) for suffix in task.suffixes):
                return task.head
    return BASE


def is_nli(config: Any) -> bool:
    """A classifier whose labels include entailment: what zero-shot classification needs
    (``pipeline("zero-shot-classification")`` looks for a label starting with "entail")."""
    id2label = getattr(config, "id2label", None) or {}
    return any(str(label).lower().startswith(ENTAILMENT_PREFIX) for label in id2label.values())


def task_for(head_class: str, config: Any) -> Task:
    """The task a checkpoint loaded with ``head_class`` does: an NLI classifier does zero-shot
    classification; otherwise the task of its head (a headless model extracts features)."""
    if head_class == SEQUENCE_CLASSIFICATION and is_nli(config):
        return ZERO_SHOT
    for task in TASKS:
        if task.head == head_class and task is not ZERO_SHOT:
            return task
    return FEATURE_EXTRACTION


def by_name(name: str) -> Task:
    for task in TASKS:
        if task.name == name:
            return task
    raise KeyError(f"no task named {name!r}")


@dataclass(frozen=True, kw_only=True)
class TaskInputs:
    """What the user typed for a task besides the sentences (the Pipeline page's settings, as
    typed: each task module parses its own and says what it did with bad input)."""

    labels: str = "education, politics, business"  # zero-shot: comma-separated candidate labels
    template: str = "This example is {}."  # zero-shot: the hypothesis each label is put into
    multi_label: bool = False  # zero-shot: each label scored on its own
    question: str = "Where do I work?"  # question answering: the sentences are the context
    choices: str = "Now it is finally here. | So I will never take it. | The sky is blue."  # multiple choice: separated by "|" (the sentences are the prompts)
    # token classification: none / simple / first / average / max. "first" reads each word by its
    # first sub-token, as the course's fine-tuning trains it (label alignment: the rest are -100).
    aggregation: str = "first"
