"""quality.py details that mutation testing found untested: merging a person's join sessions
keeps the highest maximum whichever session is merged first."""

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
