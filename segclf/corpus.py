"""Checks on a labeled corpus: unique ids, duplicated paragraphs, counts against minimums. No I/O."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from segclf.documents import LABELS, Document
from segclf.errors import SegclfError


@dataclass
class CorpusStats:
    documents: int = 0
    paragraphs: int = 0
    labels: Counter = field(default_factory=Counter)
    outlets: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    content_paragraphs: int = 0  # all but boilerplate
    repeated: int = 0  # content paragraphs whose text stood earlier in the corpus
    first_repeat: str = ""  # where the first of them is

    @property
    def repeated_share(self) -> float:
        return self.repeated / self.content_paragraphs if self.content_paragraphs else 0.0

    def format(self) -> str:
        lines = [f"documents   {self.documents}", f"paragraphs  {self.paragraphs}"]
        lines += [f"  {label:<12}{self.labels.get(label, 0):>7}" for label in LABELS]
        if self.outlets:
            lines.append(f"outlets     {len(self.outlets)}")
        if self.kinds:
            lines.append("kinds       " + ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items())))
        lines.append(f"repeated non-boilerplate paragraphs  {self.repeated}/{self.content_paragraphs} "
                     f"({self.repeated_share:.2%})")
        return "\n".join(lines)


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def check_corpus(documents: Sequence[Document], max_repeated_share: float = 0.01,
                 min_repeated_words: int = 4) -> CorpusStats:
    """Count the corpus and raise SegclfError naming the record at fault for a repeated id.

    Repeated furniture is fine (sites repeat it); repeated content is counted and fails the check when it
    exceeds `max_repeated_share` of the non-boilerplate paragraphs. Lines under `min_repeated_words` words are
    not counted: a gallery counter ("3 of 12"), "Video" or "Verdict" recurs on every page of a site, copied
    sentences do not.
    """
    stats = CorpusStats()
    seen_ids: dict[str, str] = {}
    seen_text: set[str] = set()
    for doc in documents:
        where = doc.origin or doc.id
        if doc.id in seen_ids:
            raise SegclfError(f"{where}: document id {doc.id!r} repeats {seen_ids[doc.id]}")
        seen_ids[doc.id] = where
        if not doc.paragraphs:
            raise SegclfError(f"{where}: document {doc.id!r} has no paragraphs")
        stats.documents += 1
        stats.outlets.update([doc.fields["outlet"]] if "outlet" in doc.fields else [])
        stats.kinds.update([doc.fields["kind"]] if "kind" in doc.fields else [])
        for i, p in enumerate(doc.paragraphs):
            if not p.text.strip():
                raise SegclfError(f"{where}: paragraph {i} has empty text")
            stats.paragraphs += 1
            stats.labels[p.label] += 1
            if p.label != "boilerplate":
                stats.content_paragraphs += 1
                key = _normalised(p.text)
                if key in seen_text and key.count(" ") + 1 >= min_repeated_words:
                    stats.repeated += 1
                    stats.first_repeat = stats.first_repeat or f"{where}: paragraph {i}"
                seen_text.add(key)
    if stats.repeated_share > max_repeated_share:
        raise SegclfError(f"{stats.repeated} of {stats.content_paragraphs} non-boilerplate paragraphs are repeated "
                          f"({stats.repeated_share:.2%}, more than {max_repeated_share:.0%}); the first: {stats.first_repeat}")
    return stats


def check_minimums(stats: CorpusStats, documents: int = 0, paragraphs: int = 0, per_label: int = 0,
                   outlets: int = 0) -> list[str]:
    """The minimums the corpus misses, as readable lines (empty when all hold)."""
    missing = []
    if stats.documents < documents:
        missing.append(f"{stats.documents} documents, fewer than {documents}")
    if stats.paragraphs < paragraphs:
        missing.append(f"{stats.paragraphs} paragraphs, fewer than {paragraphs}")
    for label in LABELS:
        if stats.labels.get(label, 0) < per_label:
            missing.append(f"{stats.labels.get(label, 0)} {label} paragraphs, fewer than {per_label}")
    if len(stats.outlets) < outlets:
        missing.append(f"{len(stats.outlets)} outlets, fewer than {outlets}")
    return missing
