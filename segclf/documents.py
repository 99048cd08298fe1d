"""The document model: a document is an ordered list of paragraphs (blocks), each with optional label and structure.

Nothing here touches files; readers and writers live in segclf.io.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from segclf.errors import SegclfError

LABELS: tuple[str, ...] = ("reported", "quote", "caption", "boilerplate", "opinion")

# How many levels of a block's ancestry Structure.region numbers: its element and three ancestors (paragraph,
# article body, card, list of cards).
REGION_LEVELS = 4
# Ancestor cues an HTML block may carry; they tell navigation and figures from article text.
STRUCTURE_CUES: tuple[str, ...] = (
    "nav", "header", "footer", "aside", "figure", "figcaption", "blockquote", "li", "a", "form", "h",
)


@dataclass(frozen=True)
class Structure:
    """Where a block sat in its HTML page; absent for plain-text paragraphs."""

    tag: str = ""
    cues: frozenset[str] = frozenset()  # names from STRUCTURE_CUES found among the block's ancestors
    link_density: float = 0.0  # share of the block's characters inside <a>
    class_tokens: str = ""  # class and id tokens of the block and its ancestors, space-separated
    # Page-unique numbers of the block's element and its nearest ancestors, nearest first: blocks that share one
    # sit in the same region of the page (an article body, a teaser card, a menu).
    region: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "cues": sorted(self.cues), "link_density": round(self.link_density, 4),
                "class_tokens": self.class_tokens, "region": list(self.region)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Structure":
        return cls(tag=str(data.get("tag", "")), cues=frozenset(data.get("cues", ())),
                   link_density=float(data.get("link_density", 0.0)),
                   class_tokens=str(data.get("class_tokens", "")),
                   region=tuple(int(number) for number in data.get("region", ())))


@dataclass(slots=True)
class Paragraph:
    text: str
    label: str | None = None
    structure: Structure | None = None
    scores: dict[str, float] | None = None  # predicted probability per label, set by labeling
    extra: dict[str, Any] = field(default_factory=dict)  # any other input fields, written back unchanged


@dataclass
class Document:
    id: str
    paragraphs: list[Paragraph]
    fields: dict[str, Any] = field(default_factory=dict)  # the other top-level input fields (source, url, ...)
    origin: str | None = None  # where it was read from ("file:line"), for error messages

    @property
    def labels(self) -> list[str | None]:
        return [p.label for p in self.paragraphs]

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.paragraphs]


class Block(NamedTuple):
    """One row the estimator sees: a paragraph in the context of its document (see `to_blocks`).

    A named tuple rather than a dataclass: a batch makes one per paragraph, and tuples are the cheapest to make.
    """

    doc: int  # index of the document within the batch; blocks of one document share it
    index: int  # position within the document
    count: int  # number of paragraphs in the document
    text: str
    structure: Structure | None = None


def to_blocks(documents: Iterable[Document]) -> list[Block]:
    """Flatten documents into estimator rows, keeping each paragraph's place in its page."""
    blocks: list[Block] = []
    for d, doc in enumerate(documents):
        n = len(doc.paragraphs)
        blocks.extend(map(Block, repeat(d), range(n), repeat(n), [p.text for p in doc.paragraphs],
                          [p.structure for p in doc.paragraphs]))
    return blocks


def gold_labels(documents: Sequence[Document]) -> list[str]:
    """The labels of every paragraph in order; raises if one is missing or unknown."""
    out: list[str] = []
    for doc in documents:
        for i, p in enumerate(doc.paragraphs):
            if p.label not in LABELS:
                what = "has no label" if p.label is None else f"has unknown label {p.label!r}"
                raise SegclfError(f"document {doc.id!r}, paragraph {i}: {what} (expected one of {', '.join(LABELS)})")
            out.append(p.label)
    return out


def document_from_texts(texts: Sequence[str], doc_id: str = "doc") -> Document:
    return Document(doc_id, [Paragraph(t) for t in texts])
