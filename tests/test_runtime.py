"""Process settings for bulk labeling: applied by segclf's own processes, never on import."""

import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_segclf_leaves_the_collector_alone():
    assert run("import gc; t = gc.get_threshold(); import segclf.api, segclf.scoring; "
               "print(gc.get_threshold() == t and gc.get_freeze_count() == 0)") == "True"


def test_settling_freezes_what_exists_and_raises_the_threshold():
    out = run("import gc; from segclf.runtime import GC_THRESHOLDS, settle_for_bulk_labeling; "
              "keep = [[i] for i in range(1000)]; settle_for_bulk_labeling(); "
              "print(gc.get_threshold() == GC_THRESHOLDS, gc.get_freeze_count() >= 1000)")
    assert out == "True True"
