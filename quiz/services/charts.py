"""Small server-side SVG charts for report pages (no JavaScript, print-friendly)."""
from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart(labels: list[str], values: list[float | None], *, maximum: float | None = None,
              value_format: str = "{:.1f}", width: int = 720, bar_height: int = 22, colour: str = "#c0392b") -> Markup:
    """Horizontal bars, one per label (long labels are shortened from the left)."""
    label_width = 190
    top = max([v for v in values if v is not None] + [0])
    maximum = maximum or top or 1
    height = bar_height * len(labels) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img">']
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 5 + i * bar_height
        short = label if len(label) <= 14 else "…" + label[-13:]
        parts.append(f'<text x="{label_width - 6}" y="{y + bar_height * 0.7:.1f}" font-size="13" '
                     f'text-anchor="end">{escape(short)}<title>{escape(label)}</title></text>')
        if value is None:
            continue
        length = (width - label_width - 60) * max(0.0, value) / maximum
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{bar_height - 6}" fill="{colour}"/>')
        parts.append(f'<text x="{label_width + length + 4:.1f}" y="{y + bar_height * 0.7:.1f}" font-size="12">'
                     f'{escape(value_format.format(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(scores: list[float], maximum: float, *, buckets: int = 10, width: int = 720, height: int = 220) -> Markup:
    """Score distribution: `buckets` equal ranges from 0 to full marks (full marks in the last)."""
    counts = [0] * buckets
    for score in scores:
        index = min(buckets - 1, int(buckets * score / maximum)) if maximum else 0
        counts[max(0, index)] += 1
    top = max(counts) or 1
    bar_w = (width - 40) / buckets
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 40}" width="100%" role="img">']
    for i, count in enumerate(counts):
        h = height * count / top
        x = 20 + i * bar_w
        parts.append(f'<rect x="{x + 2:.1f}" y="{height - h + 10:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" fill="#2f6fb0"/>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - h + 5:.1f}" font-size="12" text-anchor="middle">{count}</text>')
        low = maximum * i / buckets
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height + 28}" font-size="11" text-anchor="middle">{low:g}–</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
