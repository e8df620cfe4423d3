"""Server-side SVG charts: accessible, escaped, gaps for missing values."""

import datetime as dt
import xml.etree.ElementTree as ET

from zoom_integration.charts import ChartSeries, Threshold, line_chart_svg

SVG = "{http://www.w3.org/2000/svg}"
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def minutes(values):
    return [(T0 + dt.timedelta(minutes=i), v) for i, v in enumerate(values)]


def test_chart_is_accessible_svg_with_one_path_per_series():
    svg = line_chart_svg(chart_id="c1", title="Jitter <audio>", unit="ms", y_label="Jitter",
                         series=[ChartSeries("Audio in", minutes([3, 4, 80])),
                                 ChartSeries("Video in", minutes([6, 7, 9]))],
                         thresholds=[Threshold(30, "poor above 30 ms")])
    root = ET.fromstring(str(svg))  # noqa: S314 - our own, well-formed XML
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Jitter <audio>"
    desc = root.find(f"{SVG}desc").text
    assert "Audio in: min 3, avg 29, max 80 ms" in desc
    names = [g.get("data-name") for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert names == ["Audio in", "Video in"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Jitter (ms)" in texts and "poor above 30 ms" in texts  # axis label, threshold
    assert "Audio in" in texts and "Video in" in texts  # legend
    assert any(t and t.startswith("Time (") for t in texts)


def test_missing_values_break_the_line():
    svg = line_chart_svg(chart_id="c2", title="t", series=[
        ChartSeries("a", minutes([1, None, 3, 4]))])
    root = ET.fromstring(str(svg))  # noqa: S314 - our own output
    path = next(p for p in root.iter(f"{SVG}path"))
    assert path.get("d").count("M") == 2  # two segments around the gap


def test_empty_series_say_no_data():
    svg = line_chart_svg(chart_id="c3", title="t", series=[ChartSeries("a", minutes([None]))])
    root = ET.fromstring(str(svg))  # noqa: S314 - our own output
    assert "No data" in [t.text for t in root.iter(f"{SVG}text")]
    assert list(root.iter(f"{SVG}path")) == []


def test_single_point_and_numeric_x():
    svg = line_chart_svg(chart_id="c4", title="t", x_label="Sample",
                         series=[ChartSeries("a", [(1, 5.5)])])
    ET.fromstring(str(svg))  # noqa: S314 - our own output
    assert "<circle" in svg
