"""`scripts/mutation_report.py`: the judgement on a mutmut run, and the list it judges against."""

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("mutation_report",
                                               ROOT / "scripts" / "mutation_report.py")
mutation_report = importlib.util.module_from_spec(_spec)
sys.modules["mutation_report"] = mutation_report  # dataclasses look their module up there
_spec.loader.exec_module(mutation_report)

RESULTS = """\
    zoom_integration.quality.x_mos__mutmut_1: killed
    zoom_integration.quality.x_mos__mutmut_2: survived
    zoom_integration.client.xǁZoomClientǁget__mutmut_7: timeout
    zoom_integration.client.xǁZoomClientǁget__mutmut_8: no tests
"""
DIFF = """\
--- zoom_integration/quality.py
+++ zoom_integration/quality.py
@@ -1,3 +1,3 @@
 def mos(r):
-    if r <= 0:
+    if r < 0:
         return 1.0
"""


def accepted(name, mutated="if r < 0:", reason="continuity at 0"):
    return {name: mutation_report.Accepted(name=name, mutated=mutated, reason=reason)}


def test_parse_results_reads_every_mutant_line_and_nothing_else():
    statuses = mutation_report.parse_results("some banner: text\n" + RESULTS)
    assert statuses == {
        "zoom_integration.quality.x_mos__mutmut_1": "killed",
        "zoom_integration.quality.x_mos__mutmut_2": "survived",
        "zoom_integration.client.xǁZoomClientǁget__mutmut_7": "timeout",
        "zoom_integration.client.xǁZoomClientǁget__mutmut_8": "no tests",
    }


def test_module_of_keeps_the_dotted_module_and_drops_the_mangled_function():
    assert mutation_report.module_of("zoom_integration.client.xǁZoomClientǁget__mutmut_7") == (
        "zoom_integration.client")


def test_changed_line_is_what_the_mutant_writes_or_removes():
    assert mutation_report.changed_line(DIFF) == "if r < 0:"
    removal = "--- a\n+++ a\n@@ -1,2 +1,1 @@\n x = 1\n-    log.info('x')\n"
    assert mutation_report.changed_line(removal) == "removed: log.info('x')"


def test_a_survivor_not_on_the_list_fails_the_report():
    report = mutation_report.judge(mutation_report.parse_results(RESULTS), {}, lambda name: DIFF)
    assert report.unaccepted == ["zoom_integration.client.xǁZoomClientǁget__mutmut_8",
                                 "zoom_integration.quality.x_mos__mutmut_2"]
    assert not report.passed


def test_listed_survivors_with_the_recorded_line_pass():
    statuses = mutation_report.parse_results(RESULTS)
    listed = accepted("zoom_integration.quality.x_mos__mutmut_2") | accepted(
        "zoom_integration.client.xǁZoomClientǁget__mutmut_8")
    report = mutation_report.judge(statuses, listed, lambda name: DIFF)
    assert report.passed
    assert report.totals["zoom_integration.quality"] == {"killed": 1, "survived": 1}
    rendered = mutation_report.render(report, lambda name: DIFF)
    assert "score: 2 caught of 2 non-equivalent mutants (100.0 %), 2 equivalent" in rendered
    assert rendered.rstrip().endswith("every survivor is on the list of equivalent mutants.")


def test_an_entry_whose_mutant_now_changes_another_line_is_stale():
    statuses = {"zoom_integration.quality.x_mos__mutmut_2": "survived"}
    listed = accepted("zoom_integration.quality.x_mos__mutmut_2", mutated="if r > 100:")
    report = mutation_report.judge(statuses, listed, lambda name: DIFF)
    assert report.stale == [
        ("zoom_integration.quality.x_mos__mutmut_2", "if r > 100:", "if r < 0:")]
    assert not report.passed


def test_whitespace_inside_the_recorded_line_does_not_make_it_stale():
    statuses = {"zoom_integration.quality.x_mos__mutmut_2": "survived"}
    listed = accepted("zoom_integration.quality.x_mos__mutmut_2", mutated="if  r <  0:")
    assert mutation_report.judge(statuses, listed, lambda name: DIFF).passed


def test_a_listed_mutant_now_caught_is_reported_but_passes():
    statuses = {"zoom_integration.quality.x_mos__mutmut_1": "killed"}
    report = mutation_report.judge(
        statuses, accepted("zoom_integration.quality.x_mos__mutmut_1"),
        lambda name: pytest.fail("no diff is needed for a caught mutant"))
    assert report.now_caught == ["zoom_integration.quality.x_mos__mutmut_1"]
    assert report.passed


def test_an_unfinished_run_does_not_pass():
    statuses = {"zoom_integration.quality.x_mos__mutmut_1": "not checked"}
    report = mutation_report.judge(statuses, {}, lambda name: DIFF)
    assert report.not_run == ["zoom_integration.quality.x_mos__mutmut_1"]
    assert not report.passed


def test_a_name_listed_twice_is_refused(tmp_path):
    twice = tmp_path / "list.toml"
    twice.write_text(
        '[[equivalent]]\nreason = "a"\nmutants = [{ name = "m.x_f__mutmut_1", mutated = "x" }]\n'
        '[[equivalent]]\nreason = "b"\nmutants = [{ name = "m.x_f__mutmut_1", mutated = "y" }]\n'
    )
    with pytest.raises(ValueError, match="listed twice"):
        mutation_report.load_accepted(twice)


def test_the_committed_list_names_only_mutated_modules_and_gives_every_reason():
    configuration = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mutated_files = configuration["tool"]["mutmut"]["only_mutate"]
    modules = {f.removesuffix(".py").replace("/", ".") for f in mutated_files}
    listed = mutation_report.load_accepted()
    assert listed, "the list of equivalent mutants is empty"
    for entry in listed.values():
        assert mutation_report.module_of(entry.name) in modules, entry.name
        assert "__mutmut_" in entry.name and entry.mutated.strip() and len(entry.reason) > 20, entry
