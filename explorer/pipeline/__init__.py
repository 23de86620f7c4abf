"""The course's pipeline: checkpoints and loading, encoding (tokenizer), run (THE place a model is called), postprocess (THE place logits become probabilities), saving, and one module per task."""
