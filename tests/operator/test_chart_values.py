"""Charts survive whatever numbers arrive: non-finite values are gaps, absurd ones are clamped."""

import datetime as dt
import math
import re
import xml.etree.ElementTree as ET

import pytest

from zoom_integration.charts import ChartSeries, Threshold, line_chart_svg

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def minutes(values):
    return [(T0 + dt.timedelta(minutes=i), v) for i, v in enumerate(values)]


@pytest.mark.parametrize("values", [
    [-1e308, 1e308, 5],
    [float("nan"), float("inf"), float("-inf"), 3],
    [-1e308],
    [float("nan")],
    [10**400, 4],
])
def test_extreme_values_render_a_well_formed_chart(values):
    svg = str(line_chart_svg(chart_id="x", title="Jitter", unit="ms",
                             series=[ChartSeries("Audio in", minutes(values))],
                             thresholds=[Threshold(float("inf"), "never"), Threshold(30, "poor")]))
    ET.fromstring(svg)  # noqa: S314 - our own output
    lowered = svg.lower()
    assert "nan" not in lowered.replace("nano", "") and "inf" not in lowered
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", svg)]
    assert all(math.isfinite(n) for n in numbers)
    assert max(abs(n) for n in numbers) <= 1e7  # clamped: no absurd coordinates or labels
