"""Exact boundaries of the quality rules, and the MOS estimate's response to each input.

Every classification threshold is tried at the limit, just above and just below, and the
minimum sample count at the minimum and one under it. The MOS tests use round trips and jitter
low enough that the loss term decides the score, so a flipped or dropped loss term shows.
The expected MOS values come from the published simplified E-model (ITU-T G.107 as used by
twilio-video's preflight test), recomputed here independently of the code under test.
"""

import pytest

from zoom_integration.quality import (
    DEFAULT_THRESHOLDS,
    QualityThresholds,
    mos_estimate,
    participant_classify,
    participant_mos,
)

# Averages are rounded to 3 decimals by the summaries, so "just above/below" is 0.001 away.
EPS = 0.001


def reference_mos(rtt: float, jitter: float = 0.0, loss: float = 0.0) -> float:
    """The published formula, written out separately from zoom_integration.quality."""
    effective = rtt + 2 * jitter + 10
    r = 94.768 - effective / 40 if effective < 160 else 94.768 - (effective - 120) / 10
    r = r - 2.5 * loss
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r)


def summary(samples: int = 5, **averages: float) -> dict:
    """A stream summary as `stream_summaries` builds it: min/avg/max per metric."""
    out: dict = {"samples": samples}
    for metric, value in averages.items():
        out[metric] = {"min": value, "avg": value, "max": value}
    return out


# --- MOS: packet loss must lower it ------------------------------------------------------------

@pytest.mark.parametrize(("rtt", "jitter"), [(0, 0), (20, 2), (40, 3), (100, 10), (300, 20)])
def test_packet_loss_lowers_the_mos_at_any_usable_latency(rtt, jitter):
    scores = [mos_estimate(rtt, jitter, loss) for loss in (0, 0.5, 1, 2, 5, 10, 20)]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), scores


@pytest.mark.parametrize(("rtt", "jitter", "loss"), [
    (20, 2, 0), (20, 2, 1), (40, 3, 2.5), (40, 3, 10), (120, 5, 3), (300, 20, 1), (0, 0, 0),
])
def test_mos_matches_the_published_formula(rtt, jitter, loss):
    assert mos_estimate(rtt, jitter, loss) == pytest.approx(reference_mos(rtt, jitter, loss),
                                                           abs=0.001)


def test_one_percent_loss_costs_two_and_a_half_r_points():
    # At 40 ms / 3 ms the R factor is 93.368 without loss and 90.868 with 1 %.
    r0, r1 = 94.768 - 56 / 40, 94.768 - 56 / 40 - 2.5
    expected = [1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r) for r in (r0, r1)]
    assert mos_estimate(40, 3, 0) == pytest.approx(expected[0], abs=0.001)
    assert mos_estimate(40, 3, 1) == pytest.approx(expected[1], abs=0.001)


@pytest.mark.parametrize("metric", ["rtt", "jitter"])
def test_latency_and_jitter_lower_the_mos(metric):
    def score(value):
        return mos_estimate(value, 3, 0) if metric == "rtt" else mos_estimate(40, value, 0)
    scores = [score(v) for v in (0, 20, 60, 150, 400)]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), scores


def test_jitter_counts_twice_and_the_codec_delay_is_ten_ms():
    assert mos_estimate(100, 10, 0) == mos_estimate(120, 0, 0)
    assert mos_estimate(0, 0, 0) == pytest.approx(reference_mos(0, 0, 0), abs=0.001)


def test_the_two_latency_branches_meet_at_160_ms_effective_latency():
    # Effective latency 150 + 10 = 160 takes the second branch; both give R = 90.768.
    assert mos_estimate(150, 0, 0) == pytest.approx(reference_mos(150), abs=0.001)
    assert mos_estimate(149, 0, 0) > mos_estimate(150, 0, 0) > mos_estimate(151, 0, 0)


def test_mos_is_clamped_between_1_and_4_5():
    assert mos_estimate(40, 3, 100) == 1.0  # R far below 0
    assert mos_estimate(5000, 0, 0) == 1.0
    # R exactly 0: 94.768 - 2.5 * 37.9072 at 0 ms (effective 10 ms: 94.518).
    loss_to_zero = (94.768 - 10 / 40) / 2.5
    assert mos_estimate(0, 0, loss_to_zero) == 1.0
    # Just above R = 0 the formula itself applies (it dips a little under 1 there).
    assert mos_estimate(0, 0, loss_to_zero - 0.1) == pytest.approx(
        reference_mos(0, 0, loss_to_zero - 0.1), abs=0.001)
    assert mos_estimate(0, 0, loss_to_zero - 4) > 1.0
    assert mos_estimate(0, 0, -3) == 4.5  # R >= 100 (a negative loss never occurs: clamp only)
    assert 4.3 < mos_estimate(0, 0, 0) < 4.5


def test_participant_mos_uses_the_loss_of_each_audio_stream_and_the_worst_wins():
    clean = summary(latency_ms=40, jitter_ms=3, avg_loss_pct=0)
    lossy = summary(latency_ms=40, jitter_ms=3, avg_loss_pct=4)
    assert participant_mos({"audio_input": clean}) == mos_estimate(40, 3, 0)
    assert participant_mos({"audio_input": lossy}) == mos_estimate(40, 3, 4)
    assert participant_mos({"audio_input": clean, "audio_output": lossy}) == mos_estimate(40, 3, 4)
    assert participant_mos({"audio_input": lossy, "audio_output": clean}) == mos_estimate(40, 3, 4)
    assert participant_mos({"audio_input": clean}) > participant_mos({"audio_input": lossy})
    # Video does not score, and a stream without a round trip cannot be scored.
    assert participant_mos({"video_input": clean}) is None
    assert participant_mos({"audio_input": summary(jitter_ms=3)}) is None


def test_classification_carries_a_loss_aware_mos():
    good = participant_classify({"audio_input": summary(latency_ms=40, jitter_ms=3,
                                                        avg_loss_pct=0)})
    lossy = participant_classify({"audio_input": summary(latency_ms=40, jitter_ms=3,
                                                         avg_loss_pct=8)})
    assert good.quality == lossy.quality == "good"  # 8 % is under the 10 % rule
    assert good.mos > lossy.mos
    assert lossy.mos == mos_estimate(40, 3, 8)


# --- classification thresholds: at, just above, just below ------------------------------------

T = DEFAULT_THRESHOLDS
# (stream, metric, limit, direction): "above" = poor when avg > limit, "below" = poor when < limit.
RULES = [
    ("audio_input", "latency_ms", T.audio_round_trip_ms, "above"),
    ("audio_output", "latency_ms", T.audio_round_trip_ms, "above"),
    ("audio_input", "avg_loss_pct", T.audio_loss_pct, "above"),
    ("audio_output", "avg_loss_pct", T.audio_loss_pct, "above"),
    ("audio_input", "jitter_ms", T.audio_jitter_ms, "above"),
    ("audio_output", "jitter_ms", T.audio_jitter_ms, "above"),
    ("video_input", "frame_rate_fps", T.video_min_fps, "below"),
    ("video_output", "frame_rate_fps", T.video_min_fps, "below"),
    ("video_input", "avg_loss_pct", T.video_loss_pct, "above"),
    ("video_output", "avg_loss_pct", T.video_loss_pct, "above"),
    ("as_input", "frame_rate_fps", T.screen_share_min_fps, "below"),
    ("as_output", "frame_rate_fps", T.screen_share_min_fps, "below"),
]


def test_the_defaults_are_the_published_cqd_limits():
    assert (T.audio_round_trip_ms, T.audio_loss_pct, T.audio_jitter_ms) == (500, 10, 30)
    assert (T.video_min_fps, T.video_loss_pct, T.screen_share_min_fps) == (7, 15, 2)
    assert T.min_samples == 2


def _one_metric(stream, metric, value, samples=5):
    return participant_classify({stream: summary(samples, **{metric: value})})


@pytest.mark.parametrize(("stream", "metric", "limit", "direction"), RULES)
def test_value_equal_to_the_limit_is_good(stream, metric, limit, direction):
    result = _one_metric(stream, metric, limit)
    assert result.quality == "good", result.reason_text
    assert result.classified_streams == [stream]


@pytest.mark.parametrize(("stream", "metric", "limit", "direction"), RULES)
def test_value_just_past_the_limit_is_poor_with_its_reason(stream, metric, limit, direction):
    value = limit + EPS if direction == "above" else limit - EPS
    result = _one_metric(stream, metric, value)
    assert result.quality == "poor"
    (reason,) = result.reasons
    assert (reason.stream, reason.metric, reason.value, reason.limit) == (stream, metric, value,
                                                                          limit)
    assert reason.op == (">" if direction == "above" else "<")


@pytest.mark.parametrize(("stream", "metric", "limit", "direction"), RULES)
def test_value_just_inside_the_limit_is_good(stream, metric, limit, direction):
    value = limit - EPS if direction == "above" else limit + EPS
    assert _one_metric(stream, metric, value).quality == "good"


@pytest.mark.parametrize(("stream", "metric", "limit", "direction"), RULES)
def test_each_rule_follows_its_configured_threshold(stream, metric, limit, direction):
    field = {("audio", "latency_ms"): "audio_round_trip_ms",
             ("audio", "avg_loss_pct"): "audio_loss_pct", ("audio", "jitter_ms"): "audio_jitter_ms",
             ("video", "frame_rate_fps"): "video_min_fps",
             ("video", "avg_loss_pct"): "video_loss_pct",
             ("as", "frame_rate_fps"): "screen_share_min_fps"}[(stream.split("_")[0], metric)]
    moved = QualityThresholds(**{field: limit * 2})
    if direction == "above":  # past the default limit but inside the doubled one; then past it
        inside, outside = limit + EPS, limit * 2 + EPS
    else:
        inside, outside = limit * 2 + EPS, limit * 2 - EPS
    assert participant_classify({stream: summary(**{metric: inside})}, moved).quality == "good"
    assert participant_classify({stream: summary(**{metric: outside})}, moved).quality == "poor"


def test_rules_belong_to_their_stream_kind():
    # Audio limits do not apply to video, nor video frame rate to audio, and so on.
    assert _one_metric("video_input", "jitter_ms", 80).quality == "good"
    assert _one_metric("video_input", "latency_ms", 900).quality == "good"
    assert _one_metric("audio_input", "frame_rate_fps", 1).quality == "good"
    assert _one_metric("as_input", "avg_loss_pct", 50).quality == "good"
    assert _one_metric("video_input", "avg_loss_pct", 12).quality == "good"  # audio would be poor
    assert _one_metric("audio_input", "avg_loss_pct", 12).quality == "poor"
    assert _one_metric("as_input", "frame_rate_fps", 5).quality == "good"  # video would be poor
    assert _one_metric("video_input", "frame_rate_fps", 5).quality == "poor"


def test_every_broken_rule_is_a_reason_in_stream_order():
    result = participant_classify({
        "audio_input": summary(latency_ms=600, avg_loss_pct=11, jitter_ms=31),
        "video_input": summary(frame_rate_fps=6, avg_loss_pct=16),
        "as_input": summary(frame_rate_fps=1),
    })
    assert [(r.stream, r.metric) for r in result.reasons] == [
        ("audio_input", "latency_ms"), ("audio_input", "avg_loss_pct"),
        ("audio_input", "jitter_ms"), ("video_input", "frame_rate_fps"),
        ("video_input", "avg_loss_pct"), ("as_input", "frame_rate_fps")]
    assert result.reason_text.startswith("audio input round trip 600 ms > 500 ms; ")


# --- minimum samples -----------------------------------------------------------------------------

@pytest.mark.parametrize(("stream", "metric", "limit", "direction"), RULES)
def test_a_stream_with_the_minimum_samples_is_classified(stream, metric, limit, direction):
    bad = limit + 1 if direction == "above" else limit - 1
    result = _one_metric(stream, metric, bad, samples=T.min_samples)
    assert result.quality == "poor"
    assert result.classified_streams == [stream]


@pytest.mark.parametrize(("stream", "metric", "limit", "direction"), RULES)
def test_a_stream_one_sample_short_is_unclassified(stream, metric, limit, direction):
    bad = limit + 1 if direction == "above" else limit - 1
    result = _one_metric(stream, metric, bad, samples=T.min_samples - 1)
    assert result.quality == "unclassified"
    assert result.reasons == [] and result.classified_streams == []


@pytest.mark.parametrize("minimum", [1, 3, 10])
def test_the_minimum_is_configurable_and_exact(minimum):
    thresholds = QualityThresholds(min_samples=minimum)
    at = {"audio_input": summary(minimum, latency_ms=40, jitter_ms=3)}
    under = {"audio_input": summary(minimum - 1, latency_ms=40, jitter_ms=3)}
    assert participant_classify(at, thresholds).quality == "good"
    assert participant_classify(under, thresholds).quality == "unclassified"
    assert participant_mos(at, thresholds) == mos_estimate(40, 3, 0)
    assert participant_mos(under, thresholds) is None


def test_mos_needs_the_minimum_samples_too():
    at = {"audio_input": summary(T.min_samples, latency_ms=40, jitter_ms=3)}
    under = {"audio_input": summary(T.min_samples - 1, latency_ms=40, jitter_ms=3)}
    assert participant_mos(at) == mos_estimate(40, 3, 0)
    assert participant_mos(under) is None
    assert participant_classify(under).mos is None


def test_one_short_stream_does_not_hide_a_classified_one():
    result = participant_classify({
        "audio_input": summary(T.min_samples - 1, latency_ms=900),
        "video_input": summary(T.min_samples, frame_rate_fps=25),
    })
    assert result.quality == "good" and result.classified_streams == ["video_input"]
