"""Connected pieces of ink, and how thick their strokes are: what segmenting a number and telling
paper from ink both measure."""

from __future__ import annotations

import numpy as np

INK_LEVEL = 0.25  # a pixel of an ink map is ink above this; the soft edge below it goes with the stroke it borders


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a boolean mask: (labels with -1 for background, count).

    Runs of ink along each row are the nodes; a run touches the runs of the next
    row whose columns reach within one of its own, found by binary search (runs
    are in row, column order), and touching runs are joined by union-find with
    vectorised hooking, so the Python work is a few passes, not one per pixel.
    Components are numbered in the order of their first run.
    """
    h, w = mask.shape
    edges = np.diff(np.pad(mask.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # exclusive
    labels = np.full((h, w), -1, np.int32)
    if rows.size == 0:
        return labels, 0
    span = w + 2  # row-major keys: every run's start and end, ordered as the runs are
    start_key, end_key = rows * span + starts, rows * span + ends
    # Run i touches run j of the next row when start_j <= end_i and end_j >= start_i (8-connected).
    first = np.searchsorted(end_key, (rows + 1) * span + starts, "left")
    last = np.searchsorted(start_key, (rows + 1) * span + ends, "right")
    count = np.maximum(0, last - first)
    u = np.repeat(np.arange(rows.size), count)
    v = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + np.repeat(first, count)
    parent = np.arange(rows.size)
    while u.size:
        pu, pv = parent[u], parent[v]
        if np.array_equal(pu, pv):
            break
        low = np.minimum(pu, pv)
        np.minimum.at(parent, pu, low)
        np.minimum.at(parent, pv, low)
        while not np.array_equal(parent[parent], parent):
            parent = parent[parent]
    _, component = np.unique(parent, return_inverse=True)
    lengths = ends - starts
    cols = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    labels[np.repeat(rows, lengths), cols] = np.repeat(component, lengths)
    return labels, int(component.max()) + 1


def component_boxes(labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per label: (top, left, bottom, right) exclusive, and pixel count."""
    rows, cols = np.nonzero(labels >= 0)
    ids = labels[rows, cols]
    box = np.empty((count, 4), np.int64)
    box[:, :2] = np.iinfo(np.int64).max
    box[:, 2:] = -1
    np.minimum.at(box[:, 0], ids, rows)
    np.minimum.at(box[:, 1], ids, cols)
    np.maximum.at(box[:, 2], ids, rows + 1)
    np.maximum.at(box[:, 3], ids, cols + 1)
    return box, np.bincount(ids, minlength=count)


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: a stroke of width s and length L has area sL and 2L edge pixels."""
    padded = np.pad(mask, 1)
    inner = mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    edge = int(mask.sum() - inner.sum())
    return max(1.0, 2.0 * mask.sum() / max(1, edge))
