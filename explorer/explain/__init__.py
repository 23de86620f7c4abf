"""Explanations computed from a run: attention, a layer step by step, attributions, comparisons, generation, model info, the tokenizer lab, sentence pairs."""
