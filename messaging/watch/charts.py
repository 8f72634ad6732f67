"""Sparklines for the health page: small server-rendered SVGs (pygal), no JavaScript."""

from __future__ import annotations

import pygal
from pygal.style import Style

SPARK_STYLE = Style(background="transparent", plot_background="transparent", colors=("#1264a3",))
BAD_STYLE = Style(background="transparent", plot_background="transparent", colors=("#c62828",))


def sparkline(values: list[float | None], *, bad: bool = False, range_: tuple[float, float] | None = None) -> str:
    """Inline SVG; gaps (None) stay gaps. Empty string when there is nothing to draw."""
    if not any(value is not None for value in values):
        return ""
    chart = pygal.Line(
        style=BAD_STYLE if bad else SPARK_STYLE,
        js=[],
        disable_xml_declaration=True,
        show_dots=False,
        allow_interruptions=True,
        range=range_,
        stroke_style={"width": 2},
    )
    chart.add("", values)
    svg = chart.render_sparkline(width=160, height=32, is_unicode=True)
    return svg
