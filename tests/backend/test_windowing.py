"""Long clips in passes (backend/windowing.py): spans, cross-fade weights, blending."""

import numpy as np

from backend.windowing import MAX_PASS_SECONDS, blend_weights, cross_fade, pass_spans, window_spans


def test_window_spans_and_weights():
    assert window_spans(10, 40, 10) == [(0, 10)]
    spans = window_spans(100, 40, 10)
    assert spans == [(0, 40), (30, 70), (60, 100)]
    total = np.zeros(100)
    for i, (s, e) in enumerate(spans):
        total[s:e] += blend_weights(spans, i)
    np.testing.assert_allclose(total, 1.0)
    assert blend_weights(spans, 0)[0] == 1.0 and blend_weights(spans, 1)[0] < 0.1
    odd = window_spans(95, 40, 10)
    assert odd[-1] == (55, 95) and all(e - s == 40 for s, e in odd)
    assert all(a[1] - b[0] >= 10 for a, b in zip(odd, odd[1:]))


def test_pass_spans_one_pass_unless_asked_or_too_long():
    assert pass_spans(60, 20.0) == [(0, 60)]
    assert pass_spans(60, 20.0, pass_seconds=1.0) == [(0, 20), (15, 35), (30, 50), (40, 60)]  # overlap a quarter
    assert pass_spans(60, 20.0, pass_seconds=1.0, overlap_seconds=0.5) == [(0, 20), (10, 30), (20, 40), (30, 50), (40, 60)]
    long = int(MAX_PASS_SECONDS * 20) + 1
    spans = pass_spans(long, 20.0)
    assert len(spans) == 2 and spans[0] == (0, MAX_PASS_SECONDS * 20) and spans[-1][1] == long


def test_cross_fade_keeps_agreeing_passes_and_blends_the_overlap():
    spans = [(0, 4), (2, 6)]
    same = cross_fade(spans, [np.full((4, 2), 3.0), np.full((4, 2), 3.0)])
    np.testing.assert_allclose(same, 3.0)
    blended = cross_fade(spans, [np.zeros((4, 1)), np.ones((4, 1))])
    np.testing.assert_allclose(blended[:, 0], [0, 0, 1 / 3, 2 / 3, 1, 1])
