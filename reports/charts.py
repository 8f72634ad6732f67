"""Server-rendered SVG charts (pygal). The same SVG goes into the page and the PDF."""

from __future__ import annotations

import pygal
from django.utils.translation import gettext as _
from pygal.style import Style

from smsportal.pdf import CJK_FONT_STACK

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#6b7785",
    colors=("#1264a3", "#1a7f37", "#c62828", "#9a6700", "#6f42c1", "#0e7c86"),
    font_family=CJK_FONT_STACK,
    label_font_size=11,
    major_label_font_size=11,
    title_font_size=14,
    legend_font_size=11,
    value_font_size=10,
)

COMMON = {
    "style": STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "width": 760,
    "height": 320,
    "explicit_size": False,
    "print_values": False,
    "show_legend": True,
    "legend_at_bottom": True,
}


def _render(chart) -> str:
    return chart.render(is_unicode=True)


def rate_bars(title: str, rows: list[tuple[str, float | None]], benchmark: float | None = 0.98) -> str:
    """Horizontal bars of delivery rate (%) per label, with the benchmark as a second series."""
    chart = pygal.HorizontalBar(
        title=str(title), range=(80, 100), **{**COMMON, "height": max(220, 28 * len(rows) + 90)}
    )
    chart.x_labels = [str(label) for label, _value in rows]
    chart.add(_("Delivery rate %"), [round(value * 100, 2) if value is not None else None for _label, value in rows])
    if benchmark is not None:
        chart.add(_("Benchmark %"), [benchmark * 100] * len(rows), show_dots=False)
    return _render(chart)


def hourly(title: str, hours: dict[int, tuple[float | None, float | None]]) -> str:
    """By local hour of day: delivery rate and share arriving within target, both in %."""
    chart = pygal.Line(title=str(title), range=(50, 100), x_label_rotation=0, **COMMON)
    chart.x_labels = [f"{hour:02d}" for hour in range(24)]
    chart.add(_("Delivery rate %"), [_pct(hours.get(hour, (None, None))[0]) for hour in range(24)])
    chart.add(_("Within target %"), [_pct(hours.get(hour, (None, None))[1]) for hour in range(24)])
    return _render(chart)


def daily_volume(title: str, days: list[tuple[str, int, int]]) -> str:
    """Per day: delivered and failed counts, stacked."""
    chart = pygal.StackedBar(title=str(title), x_label_rotation=45, **COMMON)
    chart.x_labels = [str(label) for label, _d, _f in days]
    chart.add(_("Delivered"), [delivered for _l, delivered, _f in days])
    chart.add(_("Failed"), [failed for _l, _d, failed in days])
    return _render(chart)


def arrival_distribution(title: str, classes: list[tuple[str, list[int]]]) -> str:
    """Per message class: the share (%) of its deliveries in each arrival-time bucket, so a
    class whose mass sits beyond its target shows at a glance."""
    from reports.metrics import LATENCY_BOUNDS

    chart = pygal.Bar(title=str(title), x_label_rotation=0, **COMMON)
    chart.x_labels = [f"≤{bound:g} s" for bound in LATENCY_BOUNDS] + [f">{LATENCY_BOUNDS[-1]:g} s"]
    for label, counts in classes:
        total = sum(counts)
        if total:
            chart.add(str(label), [round(count * 100 / total, 1) for count in counts])
    return _render(chart)


def channel_health(title: str, points: list[tuple[str, float | None, float | None]]) -> str:
    """One channel over time: delivery rate (%) on the left axis, p95 arrival time (s) on the
    right. `points` are (label, rate 0–1 or None, p95 seconds or None); gaps stay gaps."""
    rates = [_pct(value) for _l, value, _p in points]
    p95s = [p95 for _l, _r, p95 in points]
    lowest = min((value for value in rates if value is not None), default=100)
    slowest = max((value for value in p95s if value is not None), default=0)
    chart = pygal.Line(
        title=str(title),
        x_label_rotation=45,
        show_minor_x_labels=False,
        x_labels_major_count=12,
        allow_interruptions=True,
        range=(min(80, int(lowest // 10) * 10), 100),
        secondary_range=(0, max(5, slowest * 1.2)),
        show_minor_y_labels=False,
        y_labels_major_count=6,
        **COMMON,
    )
    chart.x_labels = [str(label) for label, _r, _p in points]
    chart.add(_("Delivery rate %"), rates)
    chart.add(_("p95 arrival (s)"), p95s, secondary=True)
    return _render(chart)


def failure_pie(title: str, reasons: list[tuple[str, int]]) -> str:
    chart = pygal.Pie(title=str(title), inner_radius=0.45, **COMMON)
    for label, count in reasons[:8]:
        chart.add(str(label), count)
    return _render(chart)


def sparkline(values: list[float | None]) -> str:
    chart = pygal.Line(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        show_legend=False,
        show_x_labels=False,
        show_y_labels=False,
        show_dots=False,
        width=160,
        height=36,
        margin=0,
        spacing=0,
        explicit_size=True,
    )
    chart.add("", values)
    return chart.render_sparkline(is_unicode=True)


def _pct(value: float | None) -> float | None:
    return round(value * 100, 2) if value is not None else None
