"""quality.py details that mutation testing found untested: merging a person's join sessions
keeps the highest maximum whichever session is merged first."""

import json

import pytest

from zoom_integration.quality import SummaryAccumulator, stream_summaries


def _audio(latency, jitter, loss):
    return {"audio_input": {"latency_ms": latency, "jitter_ms": jitter, "avg_loss_pct": loss,
                            "bitrate_kbps": 30.0}}


# The bad session first, then a better one: its lower maximum must not replace the higher.
BAD = [_audio(900, 80, 5.0)]
GOOD = [_audio(40, 10, 0.0), _audio(60, 30, 1.0), _audio(50, 20, 0.5)]


@pytest.mark.parametrize("sessions", [(BAD, GOOD), (GOOD, BAD)], ids=["bad-first", "good-first"])
def test_merged_sessions_equal_one_accumulator_fed_every_sample_in_any_order(sessions):
    merged = SummaryAccumulator()
    for samples in sessions:
        part = SummaryAccumulator()
        for metrics in samples:
            part.add(metrics)
        merged.merge(part)
    summary = merged.summaries()
    assert summary == stream_summaries(BAD + GOOD)
    assert summary["audio_input"]["latency_ms"] == {"min": 40, "avg": 262.5, "max": 900}
    assert summary["audio_input"]["jitter_ms"]["max"] == 80
    assert summary["audio_input"]["samples"] == 4


# -- what a sample keeps raw, and how it counts what it could not read ---------------------------

def test_unknown_fields_keep_numbers_as_numbers_and_count_across_blocks():
    from zoom_integration.quality import sample_parse

    parsed = sample_parse({
        "date_time": "2026-05-29T09:01:00Z",
        "audio_input": {"latency": "40 ms", "new_audio_field": 7},
        "video_input": {"latency": "50 ms", "new_video_field": True},
        "brand_new_block": 2.5,
    })
    assert parsed.unparsed == {"audio_input.new_audio_field": 7,
                               "video_input.new_video_field": True, "brand_new_block": 2.5}
    assert (parsed.unknown, parsed.warnings) == (3, 0)


def test_an_unreadable_block_is_a_warning_not_an_unknown_field():
    from zoom_integration.quality import sample_parse

    parsed = sample_parse({"date_time": "2026-05-29T09:01:00Z", "audio_input": "garbled"})
    assert (parsed.warnings, parsed.unknown) == (1, 0)
    assert parsed.unparsed == {"audio_input": "garbled"}


def test_large_raw_values_are_kept_as_a_short_description_and_the_limit_is_inclusive():
    from zoom_integration.quality import _KEEP_JSON, sample_parse

    big_object = {f"k{i}": "x" * 20 for i in range(40)}
    big_list = list(range(400))
    # An object whose JSON is exactly the limit is kept whole.
    exact = {"k": "x" * (_KEEP_JSON - len(json.dumps({"k": ""})))}
    assert len(json.dumps(exact)) == _KEEP_JSON
    parsed = sample_parse({"date_time": "t", "odd_object": big_object, "odd_list": big_list,
                           "exact": exact})
    assert parsed.unparsed["odd_object"] == "<object of 40 items>"
    assert parsed.unparsed["odd_list"] == "<list of 400 items>"
    assert parsed.unparsed["exact"] == exact


def test_cpu_and_wifi_blocks():
    from zoom_integration.quality import sample_parse

    # An absent block is an empty mapping, never None.
    assert sample_parse({"date_time": "t"}).cpu == {}
    assert sample_parse({"date_time": "t"}).wifi == {}
    # The unit key of the wifi block is skipped wherever it comes, and the rest still read.
    wifi = sample_parse({"date_time": "t", "wifi_rssi": {
        "rssi_unit": "dBm", "max_rssi": "-40", "avg_rssi": "-55"}}).wifi
    assert wifi == {"max_rssi": -40.0, "avg_rssi": -55.0}
    # Signal strength is in dBm, bare or with its unit; a value in another unit is unreadable.
    assert sample_parse({"date_time": "t", "wifi_rssi": {
        "avg_rssi": "-52 dBm", "min_rssi": -60}}).wifi == {"avg_rssi": -52.0, "min_rssi": -60.0}
    parsed = sample_parse({"date_time": "t", "wifi_rssi": {"avg_rssi": "-52 ms"}})
    assert parsed.wifi == {} and parsed.warnings == 1
    # CPU values are read in percent: a value in another unit is unreadable.
    parsed = sample_parse({"date_time": "t", "cpu_usage": {"zoom_avg_cpu_usage": "12 ms"}})
    assert parsed.cpu == {} and parsed.warnings == 1
    assert sample_parse({"date_time": "t", "cpu_usage": {
        "zoom_avg_cpu_usage": "12%"}}).cpu == {"zoom_avg_cpu_usage": 12.0}


def test_a_sample_time_that_is_not_text_is_dropped():
    from zoom_integration.quality import sample_parse

    assert sample_parse({"date_time": 1717000000}).sampled_at is None
    assert sample_parse({"date_time": "2026-05-29T09:01:00Z"}).sampled_at == "2026-05-29T09:01:00Z"


@pytest.mark.parametrize(("raw", "value"), [("12 ms", 12.0), ("7%", 7.0), ("900 kbps", 900.0),
                                            ("25 fps", 25.0), ("3.5", 3.5)])
def test_without_a_unit_a_number_is_taken_in_the_unit_it_names(raw, value):
    from zoom_integration.quality import Parsed, parse_metric

    assert parse_metric(raw) == Parsed(value, True)
