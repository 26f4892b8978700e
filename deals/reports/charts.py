"""Server-rendered SVG charts for the reports pages.

No JavaScript and no `style=""` (the CSP forbids inline styles): only SVG presentation
attributes (fill, stroke, font-size, text-anchor). Charts never rely on colour alone: each
series also has its own pattern, every bar carries its value as text, and every chart comes
with its numbers as a table in the template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

# (fill colour, pattern kind) per series index; patterns keep series apart without colour.
PALETTE = (
    ("#1f5fa8", "solid"),
    ("#c0392b", "diagonal"),
    ("#2e8b57", "dots"),
    ("#b7791f", "cross"),
    ("#6b46c1", "horizontal"),
    ("#4a5568", "vertical"),
    ("#0f766e", "reverse"),
    ("#9d174d", "grid"),
    ("#718096", "solid"),
)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown on the bar


def _pattern_defs(prefix: str, count: int) -> str:
    parts = []
    for index in range(count):
        colour, kind = PALETTE[index % len(PALETTE)]
        pid = f"{prefix}-p{index}"
        marks = {
            "solid": "",
            "diagonal": '<path d="M0,8 L8,0" stroke="#fff" stroke-width="1.5"/>',
            "reverse": '<path d="M0,0 L8,8" stroke="#fff" stroke-width="1.5"/>',
            "dots": '<circle cx="4" cy="4" r="1.6" fill="#fff"/>',
            "cross": '<path d="M0,8 L8,0 M0,0 L8,8" stroke="#fff" stroke-width="1"/>',
            "horizontal": '<path d="M0,4 L8,4" stroke="#fff" stroke-width="1.5"/>',
            "vertical": '<path d="M4,0 L4,8" stroke="#fff" stroke-width="1.5"/>',
            "grid": '<path d="M0,4 L8,4 M4,0 L4,8" stroke="#fff" stroke-width="1"/>',
        }[kind]
        parts.append(
            f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse">'
            f'<rect width="8" height="8" fill="{colour}"/>{marks}</pattern>'
        )
    return "<defs>" + "".join(parts) + "</defs>"


def _fill(prefix: str, index: int) -> str:
    return f"url(#{prefix}-p{index})"


def _open(chart_id: str, title: str, description: str, width: int, height: int) -> str:
    return format_html(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" '
        'role="img" aria-labelledby="{}-t {}-d" font-family="sans-serif" font-size="12">'
        '<title id="{}-t">{}</title><desc id="{}-d">{}</desc>',
        width,
        height,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
    )


def _empty(chart_id: str, title: str) -> SafeString:
    svg = _open(chart_id, title, "No data for the selected filters.", 600, 60)
    svg += '<text x="10" y="35" fill="#4a5568">No data for the selected filters.</text></svg>'
    return mark_safe(svg)  # noqa: S308 - every dynamic part above is escaped by format_html


def hbar_chart(chart_id: str, title: str, bars: Sequence[Bar], *, max_value=None) -> SafeString:
    """Horizontal bars, label on the left, value text at the end of each bar."""
    if not bars:
        return _empty(chart_id, title)
    label_w, bar_w, row_h, width = 220, 300, 26, 640
    top = max(max_value or 0, *(b.value for b in bars)) or 1
    height = row_h * len(bars) + 10
    parts = [
        _open(chart_id, title, f"{len(bars)} bars; values are written on each bar.", width, height)
    ]
    parts.append(_pattern_defs(chart_id, 1))
    for index, bar in enumerate(bars):
        y = 5 + index * row_h
        length = max(0.0, bar.value) / top * bar_w
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" fill="#1a202c">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#1a202c" '
                'stroke-width="0.5"><title>{}: {}</title></rect>'
                '<text x="{}" y="{}" fill="#1a202c">{}</text>',
                label_w - 8,
                y + 16,
                _truncate(bar.label, 30),
                label_w,
                y + 3,
                f"{length:.1f}",
                row_h - 8,
                _fill(chart_id, 0),
                bar.label,
                bar.text,
                f"{label_w + length + 6:.1f}",
                y + 16,
                bar.text,
            )
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - parts are format_html output


def vbar_chart(
    chart_id: str, title: str, bars: Sequence[Bar], *, max_value=None, unit: str = ""
) -> SafeString:
    """Vertical bars (one per week), value text above each bar, label below."""
    if not bars:
        return _empty(chart_id, title)
    left, plot_h, top_pad, bottom = 10, 160, 20, 40
    slot = max(28, min(70, 620 // max(1, len(bars))))
    width = max(640, left * 2 + slot * len(bars))
    height = top_pad + plot_h + bottom
    top = max(max_value or 0, *(b.value for b in bars)) or 1
    desc = f"{len(bars)} bars{' in ' + unit if unit else ''}; values are written above each bar."
    parts = [_open(chart_id, title, desc, width, height), _pattern_defs(chart_id, 1)]
    parts.append(
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#1a202c" stroke-width="1"/>',
            left,
            top_pad + plot_h,
            width - left,
            top_pad + plot_h,
        )
    )
    for index, bar in enumerate(bars):
        x = left + index * slot
        h = max(0.0, bar.value) / top * plot_h
        y = top_pad + plot_h - h
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#1a202c" '
                'stroke-width="0.5"><title>{}: {}</title></rect>'
                '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#1a202c">{}</text>'
                '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#4a5568">{}</text>',
                x + 3,
                f"{y:.1f}",
                slot - 6,
                f"{h:.1f}",
                _fill(chart_id, 0),
                bar.label,
                bar.text,
                x + slot / 2,
                f"{y - 4:.1f}",
                bar.text,
                x + slot / 2,
                top_pad + plot_h + 14,
                bar.label,
            )
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - parts are format_html output


def stacked_chart(
    chart_id: str,
    title: str,
    columns: Sequence[tuple[str, dict[str, int]]],
    series: Sequence[tuple[str, str]],
) -> SafeString:
    """Stacked vertical bars: one column per week, one patterned segment per series
    (key, label). Segments tall enough carry their count; every column carries its total;
    a legend pairs each pattern with its label."""
    if not columns:
        return _empty(chart_id, title)
    left, plot_h, top_pad, legend_h = 10, 180, 20, 20 * ((len(series) + 3) // 4) + 10
    slot = max(34, min(70, 620 // max(1, len(columns))))
    width = max(640, left * 2 + slot * len(columns))
    height = top_pad + plot_h + 24 + legend_h
    top = max(sum(values.values()) for _, values in columns) or 1
    desc = (
        f"{len(columns)} weeks; each bar is split by status, patterns and the legend "
        "identify statuses, totals are written above each bar."
    )
    parts = [_open(chart_id, title, desc, width, height), _pattern_defs(chart_id, len(series))]
    for index, (label, values) in enumerate(columns):
        x = left + index * slot
        y = top_pad + plot_h
        for s_index, (key, s_label) in enumerate(series):
            count = values.get(key, 0)
            if not count:
                continue
            h = count / top * plot_h
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#1a202c" '
                    'stroke-width="0.5"><title>{} · {}: {}</title></rect>',
                    x + 3,
                    f"{y:.1f}",
                    slot - 6,
                    f"{h:.1f}",
                    _fill(chart_id, s_index),
                    label,
                    s_label,
                    count,
                )
            )
            if h >= 14:
                parts.append(
                    format_html(
                        '<rect x="{}" y="{}" width="16" height="12" fill="#fff" opacity="0.85"/>'
                        '<text x="{}" y="{}" text-anchor="middle" font-size="10" '
                        'fill="#1a202c">{}</text>',
                        x + slot / 2 - 8,
                        f"{y + h / 2 - 6:.1f}",
                        x + slot / 2,
                        f"{y + h / 2 + 4:.1f}",
                        count,
                    )
                )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#1a202c">{}</text>'
                '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#4a5568">{}</text>',
                x + slot / 2,
                f"{y - 4:.1f}",
                sum(values.values()),
                x + slot / 2,
                top_pad + plot_h + 14,
                label,
            )
        )
    legend_y = top_pad + plot_h + 30
    for s_index, (_key, s_label) in enumerate(series):
        lx = left + (s_index % 4) * 155
        ly = legend_y + (s_index // 4) * 20
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="14" height="14" fill="{}" stroke="#1a202c" '
                'stroke-width="0.5"/><text x="{}" y="{}" fill="#1a202c">{}</text>',
                lx,
                ly,
                _fill(chart_id, s_index),
                lx + 20,
                ly + 11,
                s_label,
            )
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - parts are format_html output


def _truncate(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_text(value) -> str:
    return escape(value)
