"""QoS parsing (property-tested: it never raises) and classification (docs/quality-rules.md)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoom_integration.quality import (
    Parsed,
    QualityThresholds,
    SummaryAccumulator,
    meeting_classify,
    mos_estimate,
    parse_metric,
    parse_resolution,
    participant_classify,
    sample_parse,
    stream_summaries,
)


@pytest.mark.parametrize(("raw", "unit", "expected"), [
    ("126 ms", "ms", Parsed(126.0)),
    ("3 ms", "ms", Parsed(3.0)),
    ("0.3%", "%", Parsed(0.3)),
    ("812 kbps", "kbps", Parsed(812.0)),
    ("1.2 Mbps", "kbps", Parsed(1200.0)),
    ("27.3 kbps", "kbps", Parsed(27.3)),
    ("25 fps", "fps", Parsed(25.0)),
    ("-", "ms", Parsed(None)),
    ("", "ms", Parsed(None)),
    (None, "ms", Parsed(None)),
    ("42", "ms", Parsed(42.0)),
    ("12 parsecs", "ms", Parsed(None, False)),
    ("fast", "ms", Parsed(None, False)),
    ("5 ms", "%", Parsed(None, False)),
    (7, "ms", Parsed(7.0)),
    (float("nan"), "ms", Parsed(None, False)),
    (["1 ms"], "ms", Parsed(None, False)),
])
def test_parse_metric(raw, unit, expected):
    assert parse_metric(raw, unit) == expected


def test_parse_resolution():
    assert parse_resolution("1280*720") == (1280, 720)
    assert parse_resolution("640x360") == (640, 360)
    assert parse_resolution("-") is None
    assert parse_resolution("") is None
    assert parse_resolution("big") is False
    assert parse_resolution({"w": 1}) is False


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.just("1\x00 ms"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(raw=json_like | st.from_regex(r"-?\d{1,5}(\.\d{1,3})? ?(ms|%|kbps|fps|Mbps|bps|xyz)?",
                                       fullmatch=True),
       unit=st.sampled_from(["ms", "%", "kbps", "fps", ""]))
def test_parse_metric_never_raises(raw, unit):
    result = parse_metric(raw, unit)
    assert isinstance(result, Parsed)
    assert result.value is None or math.isfinite(result.value)
    assert result.ok or result.value is None


@settings(max_examples=200, deadline=None)
@given(item=st.dictionaries(
    st.sampled_from(["date_time", "audio_input", "video_output", "as_input", "cpu_usage",
                     "wifi_rssi", "new_block", "audio_device_from_crc", "as_device_to_rwg"]),
    json_like | st.dictionaries(
        st.sampled_from(["latency", "jitter", "avg_loss", "max_loss", "bitrate", "frame_rate",
                         "resolution", "zoom_avg_cpu_usage", "avg_rssi", "health"]),
        json_like | st.sampled_from(["126 ms", "0.3%", "812 kbps", "1280*720", "25 fps", "-",
                                     "", "9 furlongs"]), max_size=6),
    max_size=7) | json_like)
def test_sample_parse_never_raises_and_keeps_raw_text(item):
    import json

    parsed = sample_parse(item)
    # Everything it returns can be stored in a PostgreSQL jsonb column: no NaN, no NUL.
    text = json.dumps([parsed.metrics, parsed.cpu, parsed.wifi, parsed.unparsed],
                      allow_nan=False)
    assert "\\u0000" not in text


def test_sample_parse_numbers_and_unparsed():
    parsed = sample_parse({
        "date_time": "2026-05-29T09:01:00Z",
        "audio_input": {"bitrate": "27.3 kbps", "latency": "41 ms", "jitter": "3 ms",
                        "avg_loss": "0.1%", "max_loss": "1.2%"},
        "video_input": {"bitrate": "812 kbps", "latency": "-", "resolution": "1280*720",
                        "frame_rate": "25 fps", "jitter": "9 furlongs"},
        "as_input": {},
        "cpu_usage": {"zoom_avg_cpu_usage": "8%"},
        "wifi_rssi": {"avg_rssi": -52, "rssi_unit": "dBm"},
    })
    assert parsed.sampled_at == "2026-05-29T09:01:00Z"
    # A block with an unreadable value is skipped whole (a half-read block could pass for a
    # good one), with a warning; its raw text is kept; the rest of the sample is used.
    assert parsed.metrics == {
        "audio_input": {"bitrate_kbps": 27.3, "latency_ms": 41.0, "jitter_ms": 3.0,
                        "avg_loss_pct": 0.1, "max_loss_pct": 1.2},
    }
    assert parsed.unparsed == {"video_input.jitter": "9 furlongs"}
    assert (parsed.warnings, parsed.unknown) == (1, 0)
    assert parsed.cpu == {"zoom_avg_cpu_usage": 8.0}
    assert parsed.wifi == {"avg_rssi": -52.0}


def _block(latency="40 ms", jitter="3 ms", loss="0.1%", bitrate="30 kbps"):
    return {"bitrate": bitrate, "latency": latency, "jitter": jitter, "avg_loss": loss,
            "max_loss": loss}


def test_room_connector_blocks_are_the_input_and_output_of_their_medium():
    parsed = sample_parse({
        "audio_input": {}, "audio_output": {}, "video_input": {}, "video_output": {},
        "audio_device_from_crc": _block(latency="620 ms"),
        "audio_device_to_crc": _block(jitter="45 ms"),
        "video_device_from_crc": {**_block(), "frame_rate": "5 fps", "resolution": "640*360"},
        "as_device_to_rwg": {**_block(), "frame_rate": "1 fps"},
    })
    assert parsed.metrics["audio_input"]["latency_ms"] == 620.0  # from = what the device sent
    assert parsed.metrics["audio_output"]["jitter_ms"] == 45.0   # to = what it received
    assert parsed.metrics["video_input"]["frame_rate_fps"] == 5.0
    assert parsed.metrics["video_input"]["resolution"] == "640x360"
    assert parsed.metrics["as_output"]["frame_rate_fps"] == 1.0
    assert set(parsed.metrics) == {"audio_input", "audio_output", "video_input", "as_output"}
    assert (parsed.warnings, parsed.unknown, parsed.unparsed) == (0, 0, {})


def test_merge_rule_own_block_first_then_crc_then_rwg():
    parsed = sample_parse({
        "audio_input": _block(latency="40 ms"),
        "audio_device_from_crc": _block(latency="700 ms"),
        "audio_device_from_rwg": _block(latency="800 ms"),
        "audio_output": {"latency": "-", "jitter": "-"},  # no data: the next block is used
        "audio_device_to_crc": {"latency": "12 parsecs"},  # unreadable: skipped, warned
        "audio_device_to_rwg": _block(latency="90 ms"),
    })
    assert parsed.metrics["audio_input"]["latency_ms"] == 40.0
    assert parsed.metrics["audio_output"]["latency_ms"] == 90.0
    assert parsed.warnings == 1
    assert parsed.unparsed == {"audio_device_to_crc.latency": "12 parsecs"}


def test_unknown_fields_are_kept_compactly_and_counted():
    parsed = sample_parse({
        "audio_input": {**_block(), "avg_jitter": "2 ms"},
        "video_connection_type": "UDP", "cpu_pressure": {"level": "nominal"},
        "issue_list": ["x" * 40] * 50, "rc_reason": "y" * 1000,
    })
    assert parsed.metrics["audio_input"]["latency_ms"] == 40.0  # a new key spoils nothing
    assert parsed.unparsed["audio_input.avg_jitter"] == "2 ms"
    assert parsed.unparsed["video_connection_type"] == "UDP"
    assert parsed.unparsed["cpu_pressure"] == {"level": "nominal"}
    assert parsed.unparsed["issue_list"] == "<list of 50 items>"
    assert parsed.unparsed["rc_reason"] == "y" * 200
    assert (parsed.unknown, parsed.warnings) == (5, 0)



def test_every_unknown_key_of_a_stream_block_is_counted():
    parsed = sample_parse({"audio_input": {**_block(), "avg_jitter": "2 ms", "mos": "4.1",
                                           "codec": "opus"}})
    assert parsed.unknown == 3
    assert set(parsed.unparsed) == {"audio_input.avg_jitter", "audio_input.mos",
                                    "audio_input.codec"}

def test_unknown_numbers_are_kept_whole_however_many_digits():
    # Only objects and lists are summarised; a number from JSON is a number (a 600-digit one
    # still parses and stores).
    long_number = 10 ** 600
    parsed = sample_parse({"audio_input": _block(), "new_counter": long_number,
                           "new_ratio": 0.25, "new_flag": True, "new_nothing": None})
    assert parsed.unparsed == {"new_counter": long_number, "new_ratio": 0.25, "new_flag": True,
                               "new_nothing": None}

def test_unreadable_blocks_are_skipped_with_a_warning_each():
    parsed = sample_parse({
        "date_time": "2026-05-29T09:01:00Z",
        "audio_input": "loud", "video_input": {"frame_rate": "fast", "bitrate": "800 kbps"},
        "audio_output": _block(),
        "cpu_usage": {"zoom_avg_cpu_usage": "lots"}, "wifi_rssi": ["-50"],
    })
    assert set(parsed.metrics) == {"audio_output"}
    assert parsed.warnings == 4 and parsed.cpu == {} and parsed.wifi == {}
    assert parsed.unparsed == {"audio_input": "loud", "video_input.frame_rate": "fast",
                               "cpu_usage.zoom_avg_cpu_usage": "lots", "wifi_rssi": ["-50"]}
    assert sample_parse("not a sample").warnings == 1


def test_merged_accumulators_equal_one_fed_every_sample():
    first = [_audio(40, 10, 0.0), _audio(60, 30, 1.0)]
    second = [_audio(900, 80, 5.0)]
    merged = SummaryAccumulator()
    for samples in (first, second):
        part = SummaryAccumulator()
        for metrics in samples:
            part.add(metrics)
        merged.merge(part)
    assert merged.summaries() == stream_summaries(first + second)
    empty = SummaryAccumulator()
    empty.merge(SummaryAccumulator())
    assert empty.summaries() == {}


def _audio(latency, jitter, loss, bitrate=30.0):
    return {"audio_input": {"latency_ms": latency, "jitter_ms": jitter, "avg_loss_pct": loss,
                            "bitrate_kbps": bitrate}}


def test_summaries_min_avg_max_over_samples_with_media():
    summaries = stream_summaries([_audio(40, 10, 0.0), _audio(60, 30, 1.0),
                                  _audio(999, 999, 99, bitrate=0)])  # no media: ignored
    audio = summaries["audio_input"]
    assert audio["samples"] == 2
    assert audio["latency_ms"] == {"min": 40, "avg": 50, "max": 60}
    assert audio["jitter_ms"] == {"min": 10, "avg": 20, "max": 30}


def test_audio_jitter_over_30_ms_is_poor_with_its_reason():
    result = participant_classify(stream_summaries([_audio(50, 80, 0.1)] * 3))
    assert result.quality == "poor"
    assert result.reason_text == "audio input jitter 80 ms > 30 ms"
    reason = result.reasons[0]
    assert (reason.stream, reason.metric, reason.value, reason.limit) == (
        "audio_input", "jitter_ms", 80, 30)


def test_audio_round_trip_and_loss_rules():
    result = participant_classify(stream_summaries([_audio(600, 5, 12)] * 3))
    assert [str(r) for r in result.reasons] == [
        "audio input round trip 600 ms > 500 ms", "audio input loss 12% > 10%"]


def test_good_call_is_good_with_a_high_mos():
    result = participant_classify(stream_summaries([_audio(40, 3, 0.1)] * 5))
    assert result.quality == "good"
    assert result.reasons == []
    assert result.mos > 4.0


def test_video_and_screen_share_rules():
    video = {"video_input": {"bitrate_kbps": 300.0, "frame_rate_fps": 5.0, "avg_loss_pct": 1}}
    share = {"as_input": {"bitrate_kbps": 100.0, "frame_rate_fps": 1.0}}
    result = participant_classify(stream_summaries([{**video, **share}] * 3))
    assert [str(r) for r in result.reasons] == ["video input frame rate 5 fps < 7 fps",
                                                "screen share input frame rate 1 fps < 2 fps"]


def test_no_data_or_too_short_is_unclassified():
    assert participant_classify({}).quality == "unclassified"
    short = participant_classify(stream_summaries([_audio(900, 90, 50)]))  # one sample only
    assert short.quality == "unclassified"


def test_thresholds_are_configurable():
    strict = QualityThresholds(audio_jitter_ms=5)
    result = participant_classify(stream_summaries([_audio(40, 10, 0)] * 3), strict)
    assert result.quality == "poor"
    assert str(result.reasons[0]) == "audio input jitter 10 ms > 5 ms"


def test_mos_e_model():
    assert mos_estimate(0, 0, 0) == pytest.approx(4.433, abs=0.001)  # R = 94.518
    assert mos_estimate(500, 50, 5) < mos_estimate(100, 10, 0)
    assert mos_estimate(5000, 0, 0) == 1.0
    assert 1.0 <= mos_estimate(200, 20, 50) <= 4.5


def test_meeting_classification():
    good = participant_classify(stream_summaries([_audio(40, 3, 0)] * 3))
    poor = participant_classify(stream_summaries([_audio(40, 80, 0)] * 3))
    none = participant_classify({})
    assert meeting_classify([good, none]) == ("good", "")
    assert meeting_classify([good, poor]) == ("poor", "audio input jitter 80 ms > 30 ms")
    assert meeting_classify([none]) == ("unclassified", "")
