"""Chart data for the unit report. The charts are drawn in the browser by ECharts (vendored in
static/vendor/echarts, started by static/reports.js from a JSON block of the page, no inline
script); this module decides what they show:

- unit bars: one level's units with their full (relative) names, average score (units that took
  part) and participation rate (every unit with a headcount), each chart sorted best first;
- score histogram: whole-number bins sized for the paper's full marks. The bin width is the
  smallest of 1, 2, 5, 10, 20, 25, 50, 100 … that gives at most 10 bins below full marks and
  divides them (else the smallest that gives at most 10 bins); bins
  are [k·w, (k+1)·w) labelled with their integer range (0–9, 10–19 …), a fractional score
  counts in the bin of its whole part, and full marks have a bin of their own (100) when they
  are a multiple of the width (else the last bin runs up to full marks: 10–10.5).
"""
from __future__ import annotations

import math

NICE_WIDTHS = (1, 2, 2.5, 5)
MAX_BINS = 10
_EPSILON = 1e-9


def bin_width(full_marks: float) -> int:
    """The histogram's bin width for these full marks (rule in the module docstring)."""
    full = float(full_marks)
    candidates, scale = [], 1
    while not candidates or candidates[-1] < full:
        candidates += [int(b * scale) for b in NICE_WIDTHS if float(b * scale).is_integer()]
        scale *= 10
    fits = [w for w in candidates if math.ceil(full / w - _EPSILON) <= MAX_BINS]
    dividing = [w for w in fits if math.isclose(full / w, round(full / w))]
    return (dividing or fits)[0]


def _label(value: float) -> str:
    return f"{value:g}"


def histogram_bins(full_marks: float) -> list[dict]:
    """[{"low", "high", "label"}]: bins covering 0 … full marks (high inclusive only in the last)."""
    full = float(full_marks or 0)
    if full <= 0:
        return []
    width = bin_width(full)
    bins, low = [], 0
    while low < full - _EPSILON:
        high = low + width
        if high > full + _EPSILON:  # a last, shorter bin that includes full marks
            label = _label(low) if math.isclose(low, full) else f"{_label(low)}–{_label(full)}"
            bins.append({"low": low, "high": full, "label": label})
            return bins
        label = _label(low) if width == 1 else f"{_label(low)}–{_label(high - 1)}"
        bins.append({"low": low, "high": high, "label": label})
        low = high
    bins.append({"low": full, "high": full, "label": _label(full)})  # full marks on their own
    return bins


def score_histogram(scores: list[float], full_marks: float) -> dict:
    """{"labels", "counts", "width"}: how many scores fall in each bin of histogram_bins."""
    bins = histogram_bins(full_marks)
    counts = [0] * len(bins)
    if bins:
        width = bin_width(float(full_marks))
        for score in scores:
            score = max(0.0, float(score or 0))
            if score >= float(full_marks) - _EPSILON:
                index = len(bins) - 1
            else:
                index = min(len(bins) - 1, int(math.floor(score / width + _EPSILON)))
            counts[index] += 1
    return {"labels": [b["label"] for b in bins], "counts": counts, "width": bin_width(full_marks) if bins else 0}


def unit_bars(rows: list, names: list[str]) -> list[dict]:
    """One level's units (reports.UnitRow, with their display names) for the two bar charts."""
    return [{"name": name, "path": r.path, "rank": r.rank, "participants": r.participants,
             "headcount": r.headcount,
             "average": None if r.average_score is None else round(r.average_score, 2),
             "participation": None if r.participation_rate is None else round(r.participation_rate * 100, 1)}
            for r, name in zip(rows, names)]
