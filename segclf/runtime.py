"""Settings for the processes segclf itself runs to label in bulk (`segclf predict`, the scoring and Spark workers).

Never applied on import: a program that uses segclf as a library keeps its own interpreter settings.
"""

from __future__ import annotations

import gc

# Labeling makes and drops many small objects (paragraphs, their dicts and lists); with the default threshold of
# 700 allocations the cyclic collector runs thousands of times a batch and walks the model's large containers
# (its vocabulary) on every full pass. Measured on `segclf predict` over the benchmark's blocks: 58,500 -> 66,000
# paragraphs/s warm, 42,500 -> 61,000 on the first pass.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_for_bulk_labeling() -> None:
    """Call once the model is loaded: move what exists (the model) out of the collector's sight and let it run
    less often. Objects made later are still collected as usual."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
