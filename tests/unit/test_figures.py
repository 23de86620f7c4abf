import numpy as np

from explorer.drawing import figures


def test_attention_heatmap_labels_are_unique_escaped_and_masked_cells_empty():
    matrix = np.array([[1.0, np.nan], [0.25, 0.75]], dtype=np.float32)
    figure = figures.attention_heatmap(matrix, [0, 1], ["<b>x</b>", "<b>x</b>"], "Layer 0, head 0")
    heatmap = figure.data[0]
    assert list(heatmap.x) == ["0 · &lt;b&gt;x&lt;/b&gt;", "1 · &lt;b&gt;x&lt;/b&gt;"]
    assert heatmap.z[0][1] is None or np.isnan(heatmap.z[0][1])
    assert heatmap.z[1][1] == 0.75
    assert figure.layout.title.text == "Layer 0, head 0"
    assert figure.layout.xaxis.title.text and figure.layout.yaxis.title.text
    assert "weight" in heatmap.hovertemplate and "query" in heatmap.hovertemplate


def test_long_inputs_label_a_said_subset_and_keep_hover():
    # Was: no tick labels at all past 80 tokens. A projector needs a readable subset, said (issue 21).
    n = 200
    figure = figures.attention_heatmap(np.full((n, n), 1 / n), list(range(n)), ["t"] * n, "long")
    assert len(figure.layout.yaxis.tickvals) <= figures.READABLE_ROWS
    assert "every 4th row labelled" in figure.layout.yaxis.title.text
    assert len(figure.data[0].x) == n


def test_matrix_heatmap_draws_minus_infinity_as_masked():
    matrix = np.array([[1.0, -np.inf], [-2.0, 0.5]])
    figure = figures.matrix_heatmap(matrix, ["a", "b"], ["c", "d"], "masked", "key", "query")
    z = np.array(figure.data[0].z, dtype=float)
    assert np.isnan(z[0, 1]) and z[1, 0] == -2.0
    assert figure.data[0].zmid == 0.0 and figure.data[0].zmax == 2.0


def test_layer_head_grid_axes_number_layers_from_1():
    figure = figures.layer_head_grid(np.ones((3, 4)), "entropy")
    assert list(figure.data[0].y) == ["layer 1", "layer 2", "layer 3"]
    assert list(figure.data[0].x) == ["head 0", "head 1", "head 2", "head 3"]


def test_labels_escape_markup_but_not_quotes():
    assert figures.label(3, '"hi" it\'s <b>') == '3 · "hi" it\'s &lt;b&gt;'
    assert figures.label(0, "a\u200bb") == "0 · a⟨U+200B⟩b"
