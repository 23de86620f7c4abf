"""What a bertviz view draws, read back from the page's payload independently of explorer's code:
the sparse rows expanded as the page's script expands them, and the weights a line is drawn for."""

from __future__ import annotations

import numpy as np

from explorer.drawing.bertviz_html import THRESHOLD


def dense(part: dict) -> np.ndarray:
    """A part's weights as bertviz reads them once our page has expanded its sparse rows: each row
    lists (key, weight in thousandths) pairs; keys not listed are 0 (written here, not imported)."""
    right = len(part["right_text"])
    layers = []
    for layer in part["sparse"]:
        heads = []
        for head in layer:
            rows = np.zeros((len(head), right))  # [queries, keys]
            for i, row in enumerate(head):
                rows[i, row[0::2]] = np.array(row[1::2]) / 1000
            heads.append(rows)
        layers.append(heads)
    return np.array(layers)  # [L, H, queries, keys]


def visible(weights: np.ndarray) -> np.ndarray:
    """The weights a bertviz line is drawn for (at or above the threshold); 0 elsewhere."""
    return np.where(weights >= THRESHOLD, weights, 0.0)
