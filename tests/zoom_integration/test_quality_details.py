"""Details of the quality arithmetic that mutation testing found untested: which samples carry
media, running min/max, the meeting's worst reason, and a reason's dictionary form."""

import pytest

from zoom_integration.quality import (
    DEFAULT_THRESHOLDS,
    Classification,
    ParsedSample,
    QualityThresholds,
    Reason,
    SummaryAccumulator,
    meeting_classify,
    mos_estimate,
    participant_classify,
    participant_mos,
    sample_parse,
    stream_summaries,
)

# --- which samples carry media ------------------------------------------------------------------

@pytest.mark.parametrize(("values", "active"), [
    ({"bitrate_kbps": 0.5}, True),  # any bitrate above zero
    ({"bitrate_kbps": 0}, False),
    ({"bitrate_kbps": 0, "frame_rate_fps": 25, "latency_ms": 40}, False),  # bitrate decides
    ({"frame_rate_fps": 0.5}, True),  # no bitrate: the frame rate decides
    ({"frame_rate_fps": 0}, False),
    ({"frame_rate_fps": 0, "latency_ms": 40, "jitter_ms": 3}, False),
    ({"latency_ms": 40}, True),  # neither: any latency or jitter
    ({"jitter_ms": 3}, True),
    ({"latency_ms": 0, "jitter_ms": 0}, False),
    ({"avg_loss_pct": 5}, False),
])
def test_a_sample_counts_only_when_it_carries_media(values, active):
    summaries = stream_summaries([{"audio_input": values}])
    assert ("audio_input" in summaries) is active
    if active:
        assert summaries["audio_input"]["samples"] == 1


def test_a_silent_stream_does_not_stop_the_others_being_counted():
    summaries = stream_summaries([
        {"audio_input": {"bitrate_kbps": 0}, "video_input": {"bitrate_kbps": 900,
                                                             "frame_rate_fps": 25}},
        {"audio_input": {"bitrate_kbps": 0}, "video_input": {"bitrate_kbps": 800,
                                                             "frame_rate_fps": 24}},
    ])
    assert list(summaries) == ["video_input"]
    assert summaries["video_input"]["samples"] == 2


# --- running min / avg / max -------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    [2.0, 1.5, 1.8],  # a value above the minimum but below the running sum
    [5.0, 3.0, 4.0],  # a value below the maximum but above the count
    [1.0, 9.0, 4.0, 0.5, 9.5, 3.0],
    [7.0, 7.0, 7.0],
])
def test_min_avg_max_are_exact_for_any_order(values):
    acc = SummaryAccumulator()
    for value in values:
        acc.add({"audio_input": {"latency_ms": value, "bitrate_kbps": 30}})
    latency = acc.summaries()["audio_input"]["latency_ms"]
    assert latency == {"min": min(values), "avg": round(sum(values) / len(values), 3),
                       "max": max(values)}
    assert acc.summaries()["audio_input"]["samples"] == len(values)


# --- the meeting's worst reason ----------------------------------------------------------------

def poor(mos, text_value, *, reasons=True):
    reason = [Reason("audio_input", "jitter_ms", text_value, 30, ">")] if reasons else []
    return Classification("poor", reason, mos)


def test_the_meeting_reason_is_the_lowest_mos_participants():
    quality, reason = meeting_classify([poor(3.9, 40), poor(2.1, 90), poor(3.0, 60)])
    assert quality == "poor"
    assert reason == "audio input jitter 90 ms > 30 ms"


def test_a_participant_without_mos_ranks_after_any_scored_one():
    quality, reason = meeting_classify([poor(None, 45), poor(4.4, 70)])
    assert reason == "audio input jitter 70 ms > 30 ms"
    assert meeting_classify([poor(None, 45)])[1] == "audio input jitter 45 ms > 30 ms"


def test_a_poor_participant_without_reasons_gives_an_empty_reason():
    assert meeting_classify([poor(2.0, 0, reasons=False)]) == ("poor", "")


def test_the_meeting_reason_is_cut_at_200_characters():
    long_reason = Reason("s" * 300, "jitter_ms", 90, 30, ">")
    quality, reason = meeting_classify([Classification("poor", [long_reason], 2.0)])
    assert len(str(long_reason)) > 200
    assert reason == str(long_reason)[:200] and len(reason) == 200


def test_good_and_unclassified_meetings():
    good = Classification("good", [], 4.3)
    unclassified = Classification("unclassified")
    assert meeting_classify([good, unclassified]) == ("good", "")
    assert meeting_classify([unclassified]) == ("unclassified", "")
    assert meeting_classify([]) == ("unclassified", "")


# --- a reason as stored -------------------------------------------------------------------------

def test_reason_as_dict_keeps_every_part_and_the_text():
    reason = Reason("video_input", "frame_rate_fps", 5.5, 7, "<")
    assert reason.as_dict() == {"stream": "video_input", "metric": "frame_rate_fps",
                                "value": 5.5, "limit": 7, "op": "<",
                                "text": "video input frame rate 5.5 fps < 7 fps"}
    assert str(Reason("audio_input", "avg_loss_pct", 12, 10, ">")) == "audio input loss 12% > 10%"


def test_reason_text_for_a_stream_or_metric_without_a_label():
    # Thresholds may grow: a new stream or metric is named as it is, with no unit.
    assert str(Reason("phone_input", "mos", 2.5, 3, "<")) == "phone_input mos 2.5  < 3 "
    assert str(Reason("audio_input", "latency_ms", 501, 500, ">")) == (
        "audio input round trip 501 ms > 500 ms")


# --- survivors of the second mutation run --------------------------------------------------------

def test_a_sample_that_is_not_an_object_is_kept_whole_and_counted():
    assert sample_parse("junk") == ParsedSample(None, {}, {}, {}, {"_": "junk"}, warnings=1)
    assert sample_parse([1]) == ParsedSample(None, {}, {}, {}, {"_": [1]}, warnings=1)


def test_an_odd_stream_block_is_skipped_whole_and_the_next_streams_still_parsed():
    # A block that is not an object, or holds a value that will not parse, is skipped whole
    # (its raw text kept, a warning counted): half a block would mix measured and missing.
    parsed = sample_parse({"audio_input": "weird", "video_input": {"latency": "2 s",
                                                                   "resolution": "big"},
                           "as_input": {"resolution": "-", "frame_rate": "3 fps"}})
    assert parsed.unparsed == {"audio_input": "weird", "video_input.resolution": "big"}
    assert parsed.metrics == {"as_input": {"frame_rate_fps": 3.0}}
    assert parsed.warnings == 2


def test_summaries_round_to_three_decimals():
    summary = stream_summaries([{"audio_input": {"latency_ms": 1.23456, "bitrate_kbps": 9}},
                                {"audio_input": {"latency_ms": 2.34567, "bitrate_kbps": 9}}])
    assert summary["audio_input"]["latency_ms"] == {"min": 1.235, "avg": 1.79, "max": 2.346}


def test_a_summary_without_a_sample_count_is_not_classified():
    no_count = {"audio_input": {"latency_ms": {"min": 40, "avg": 40, "max": 40}}}
    for thresholds in (DEFAULT_THRESHOLDS, QualityThresholds(min_samples=1)):
        assert participant_classify(no_count, thresholds).quality == "unclassified"
        assert participant_mos(no_count, thresholds) is None


def test_classification_scores_the_mos_with_its_own_thresholds():
    one = {"audio_input": {"samples": 1, "latency_ms": {"min": 40, "avg": 40, "max": 40}}}
    assert participant_classify(one, QualityThresholds(min_samples=1)).mos == mos_estimate(40)
    assert participant_classify(one).mos is None


def test_mos_skips_an_unusable_stream_and_scores_the_next():
    usable = {"samples": 5, "latency_ms": {"min": 80, "avg": 80, "max": 80}}
    short = {"samples": 1, "latency_ms": {"min": 900, "avg": 900, "max": 900}}
    no_rtt = {"samples": 5, "jitter_ms": {"min": 3, "avg": 3, "max": 3}}
    assert participant_mos({"audio_input": short, "audio_output": usable}) == mos_estimate(80)
    assert participant_mos({"audio_input": no_rtt, "audio_output": usable}) == mos_estimate(80)
    # Missing jitter and loss count as zero.
    assert participant_mos({"audio_output": usable}) == mos_estimate(80, 0.0, 0.0)


def test_mos_defaults_branch_edge_clamp_and_rounding():
    assert mos_estimate(40) == mos_estimate(40, 0.0, 0.0)
    # Effective latency 160.5 takes the second branch: R = 94.768 - 4.05.
    r = 94.768 - (160.5 - 120) / 10
    assert mos_estimate(150.5) == round(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), 3)
    # R between 100 and 101 (a negative loss only reaches it): clamped to 4.5.
    assert mos_estimate(0, 0, -2.5) == 4.5
    r = 94.768 - 56 / 40 - 2.5
    assert mos_estimate(40, 3, 1) == round(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), 3)
