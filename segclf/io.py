"""Readers and writers at the edge: labeled and unlabeled corpora in, labeled documents out, written atomically.

Formats: JSON Lines documents (see LABELS.md), CSV/TSV rows (doc_id, text[, label]), plain text (paragraphs
separated by blank lines, one document per file) and HTML pages (one document per file, its blocks as segclf.html
splits them, labels from a `data-segclf-label` attribute on each block's element or an ancestor). Every error names
the file and the line, or the block.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

import numpy as np
import orjson

from segclf.documents import LABELS, Document, Paragraph, Structure
from segclf.errors import SegclfError

FORMATS = ("auto", "jsonl", "csv", "tsv", "text", "html")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv",
               ".txt": "text", ".text": "text", ".md": "text", ".html": "html", ".htm": "html"}
LABEL_ATTRIBUTE = "data-segclf-label"  # where a labeled HTML page keeps each block's label
STDIN = "-"
_UMASK = os.umask(0o022)  # read once (os.umask can only be read by setting it), then put back
os.umask(_UMASK)


def _lines(path: str, stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """Decoded lines with their 1-based numbers; a byte that is not UTF-8 is an error naming the line."""
    for number, raw in enumerate(stream, 1):
        try:
            yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise SegclfError(f"{path}:{number}: not valid UTF-8 (byte {error.start + 1} of the line)") from None


@contextlib.contextmanager
def _open_binary(path: str) -> Iterator[IO[bytes]]:
    if path == STDIN:
        yield sys.stdin.buffer
        return
    try:
        with open(path, "rb") as stream:
            yield stream
    except FileNotFoundError:
        raise SegclfError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SegclfError(f"{path}: is a directory, expected a file") from None
    except PermissionError:
        raise SegclfError(f"{path}: permission denied") from None


def detect_format(path: str, first_line: str = "") -> str:
    if path != STDIN:
        fmt = _EXTENSIONS.get(Path(path).suffix.lower())
        if fmt:
            return fmt
    return "jsonl" if first_line.lstrip().startswith("{") else "text"


def _check_label(label: Any, where: str, require: bool) -> str | None:
    if label is None or label == "":
        if require:
            raise SegclfError(f"{where}: missing label")
        return None
    if label not in LABELS:
        if require:
            raise SegclfError(f"{where}: unknown label {label!r} (expected one of {', '.join(LABELS)})")
        return None
    return label


_OWN_FIELDS = frozenset(("text", "label", "structure", "scores"))  # a paragraph's fields that are not "extra"


def _paragraph_problem(item: Any, at: str) -> str:
    if not isinstance(item, dict):
        return f"{at}: expected an object with 'text' and 'label'"
    return f"{at}: missing field 'text'" if item.get("text") is None else f"{at}: 'text' must be a string"


def _structure(data: Any, at: str) -> Structure:
    """A paragraph's `structure` object (as `segclf blocks --json` writes it), or a one-line error naming it."""
    if not isinstance(data, dict):
        raise SegclfError(f"{at}: 'structure' must be an object, not {type(data).__name__}")
    try:
        return Structure.from_dict(data)
    except (TypeError, ValueError) as error:
        raise SegclfError(f"{at}: bad 'structure' ({error})") from None


def document_from_record(record: Any, where: str, require_labels: bool = False) -> Document:
    """One JSONL record (already parsed) as a Document; `where` names it in errors ("file:line")."""
    if not isinstance(record, dict):
        raise SegclfError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "paragraphs" not in record:
        raise SegclfError(f"{where}: missing field 'paragraphs'")
    items = record["paragraphs"]
    if not isinstance(items, list):
        raise SegclfError(f"{where}: 'paragraphs' must be a list")
    paragraphs = []
    for i, item in enumerate(items):
        if type(item) is not dict:
            if isinstance(item, str) and not require_labels:
                item = {"text": item}
            elif not isinstance(item, dict):
                raise SegclfError(_paragraph_problem(item, f"{where}: paragraph {i}"))
        text = item.get("text")
        if type(text) is not str:
            raise SegclfError(_paragraph_problem(item, f"{where}: paragraph {i}"))
        given = item.get("label")
        if len(item) == 1 and not require_labels:  # the usual unlabeled paragraph: its text alone
            paragraphs.append(Paragraph(text, None, None, None, {}))
            continue
        label = given if given in LABELS else _check_label(given, f"{where}: paragraph {i}", require_labels)
        # Most paragraphs carry only the fields read here: skip building an empty dict of the others for them.
        extra = {} if item.keys() <= _OWN_FIELDS else {k: v for k, v in item.items() if k not in _OWN_FIELDS}
        if given is not None and not require_labels:
            extra["gold_label"] = given
        structure = item.get("structure")
        if structure is not None:
            structure = _structure(structure, f"{where}: paragraph {i}")
        paragraphs.append(Paragraph(text, label, structure, extra=extra))
    doc_id = record.get("id")
    fields = {k: v for k, v in record.items() if k != "paragraphs"}
    return Document(str(doc_id) if doc_id is not None else where, paragraphs, fields, origin=where)


def _jsonl_documents(path: str, lines: Iterable[tuple[int, str]], require_labels: bool) -> Iterator[Document]:
    for number, line in lines:
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise SegclfError(f"{where}: malformed JSON ({error.msg} at column {error.colno})") from None
        yield document_from_record(record, where, require_labels)


def _table_documents(path: str, lines: Iterable[tuple[int, str]], delimiter: str,
                     require_labels: bool) -> Iterator[Document]:
    numbered = list(lines)  # csv needs the text; rows are grouped by doc_id, so the file is read whole
    reader = csv.DictReader(io.StringIO("".join(line for _, line in numbered)), delimiter=delimiter)
    columns = reader.fieldnames or []
    needed = ["doc_id", "text"] + (["label"] if require_labels else [])
    missing = [c for c in needed if c not in columns]
    if missing:
        raise SegclfError(f"{path}:1: missing column{'s' * (len(missing) > 1)} {', '.join(missing)} "
                          f"(a header row with doc_id,text,label is expected)")
    docs: dict[str, Document] = {}
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if None in row:
            raise SegclfError(f"{where}: more fields than the header has")
        if row["text"] is None:
            raise SegclfError(f"{where}: missing text field")
        doc = docs.setdefault(row["doc_id"], Document(row["doc_id"], [], {"id": row["doc_id"]}, origin=where))
        extra = {k: v for k, v in row.items() if k not in ("doc_id", "text", "label")}
        label = _check_label(row.get("label"), where, require_labels)
        if row.get("label") and not require_labels:
            extra["gold_label"] = row["label"]
        doc.paragraphs.append(Paragraph(row["text"], label, extra=extra))
    yield from docs.values()


def _text_document(path: str, lines: Iterable[tuple[int, str]]) -> Iterator[Document]:
    paragraphs, current = [], []
    for _, line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(Paragraph(" ".join(current)))
            current = []
    if current:
        paragraphs.append(Paragraph(" ".join(current)))
    if paragraphs:
        name = "stdin" if path == STDIN else Path(path).name
        yield Document(name, paragraphs, {"id": name}, origin=path)


def iter_documents(path: str, fmt: str = "auto", require_labels: bool = False) -> Iterator[Document]:
    """Stream the documents of one file ('-' is standard input). Raises SegclfError on the first bad record."""
    if fmt not in FORMATS:
        raise SegclfError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if fmt == "html" or (fmt == "auto" and detect_format(path) == "html"):
        yield _html_document(path, require_labels)
        return
    with _open_binary(path) as stream:
        lines = _lines(path, stream)
        first = next(lines, None)
        if first is None:
            raise SegclfError(f"{path}: empty file, no documents")
        if fmt == "auto":
            fmt = detect_format(path, first[1])
        if fmt == "text" and require_labels:
            raise SegclfError(f"{path}: plain text has no labels; use JSONL or CSV/TSV with a label column")
        chained = _chain(first, lines)
        if fmt == "jsonl":
            found = yield from _count(_jsonl_documents(path, chained, require_labels))
        elif fmt in ("csv", "tsv"):
            found = yield from _count(_table_documents(path, chained, "," if fmt == "csv" else "\t", require_labels))
        else:
            found = yield from _count(_text_document(path, chained))
        if not found:
            raise SegclfError(f"{path}: no documents found")


def _html_document(path: str, require_labels: bool) -> Document:
    """One HTML page as a document: its blocks, labeled from LABEL_ATTRIBUTE where the page carries it.

    The outlet is the name of the page's folder (a corpus keeps one folder per outlet), for grouped CV."""
    from segclf.html import PageError, parse_page  # here: the text formats need no HTML parser

    with _open_binary(path) as stream:
        data = stream.read()
    try:
        page = parse_page(data, label_attribute=LABEL_ATTRIBUTE)
    except PageError as error:
        raise SegclfError(f"{path}: {error}") from None
    labeled = any(p.label is not None for p in page.paragraphs)
    for i, p in enumerate(page.paragraphs):
        where = f"{path}: block {i} ({_excerpt(p.text)})"
        if p.label is None and (require_labels or labeled):
            raise SegclfError(f"{where}: no {LABEL_ATTRIBUTE} on its element or any ancestor")
        p.label = _check_label(p.label, where, True) if p.label is not None else None
        if p.label is not None and not require_labels:
            p.extra["gold_label"] = p.label  # as for JSONL: predict keeps the given label beside its own
    source = Path(path) if path != STDIN else Path("stdin.html")
    fields = {"source": path, "outlet": source.parent.name or source.stem}
    if page.lang:
        fields["lang"] = page.lang
    return Document(source.name.removesuffix(source.suffix), page.paragraphs, fields, origin=path)


def _excerpt(text: str, width: int = 40) -> str:
    return repr(text if len(text) <= width else text[:width - 1] + "…")


def _chain(first, rest):
    yield first
    yield from rest


def _count(documents: Iterator[Document]):
    n = 0
    for doc in documents:
        n += 1
        yield doc
    return n


def read_documents(paths: Iterable[str], fmt: str = "auto", require_labels: bool = False) -> list[Document]:
    docs: list[Document] = []
    for path in paths:
        docs.extend(iter_documents(str(path), fmt, require_labels))
    return docs


# -- writers ---------------------------------------------------------------------------------------------------

def _rounded_scores(paragraphs: list[Paragraph]) -> list[dict[str, float] | None]:
    """Each paragraph's scores to 4 decimals; a document labeled by one model is rounded in one numpy call."""
    scored = [p.scores for p in paragraphs if p.scores is not None]
    if not scored or len(scored) < len(paragraphs) or any(s.keys() != scored[0].keys() for s in scored):
        return [None if s is None else {k: round(v, 4) for k, v in s.items()} for s in (p.scores for p in paragraphs)]
    keys = list(scored[0])
    values = np.round(np.asarray([list(s.values()) for s in scored], dtype=np.float64), 4).tolist()
    return [dict(zip(keys, row)) for row in values]


def document_record(doc: Document) -> dict[str, Any]:
    """A labeled document as a JSONL record: the input fields kept, each paragraph with label and scores."""
    record = dict(doc.fields)
    record.setdefault("id", doc.id)
    paragraphs = []
    for p, scores in zip(doc.paragraphs, _rounded_scores(doc.paragraphs)):
        item: dict[str, Any] = {"text": p.text, **p.extra}
        if p.structure is not None:
            item["structure"] = p.structure.as_dict()
        item["label"] = p.label
        if scores is not None:
            item["scores"] = scores
        paragraphs.append(item)
    record["paragraphs"] = paragraphs
    return record


@contextlib.contextmanager
def atomic_output(path: str | None, mode: str = "w") -> Iterator[IO]:
    """Write to `path` through a temporary file renamed into place on success; None or '-' is standard output.

    A crash or an error leaves no partial file behind: the old file, if any, stays as it was.
    """
    if path is None or path == STDIN:
        yield sys.stdout if "b" not in mode else sys.stdout.buffer
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it owner-only; give it the mode open() would
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def json_line(record: Any) -> str:
    """One record as a line of JSON (UTF-8 text, not escaped). orjson is several times faster than json on the
    output path; what it refuses (integers beyond 64 bits, lone surrogates) goes through json, escaped to ASCII
    so that a lone surrogate is written as its escape."""
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE).decode()
    except orjson.JSONEncodeError:
        return json.dumps(record) + "\n"


def write_jsonl(docs: Iterable[Document], stream: IO[str], header: bool = True) -> None:
    for doc in docs:
        stream.write(json_line(document_record(doc)))


def write_csv(docs: Iterable[Document], stream: IO[str], header: bool = True,
              labels: Iterable[str] = LABELS) -> None:
    labels = list(labels)
    writer = csv.writer(stream, lineterminator="\n")
    if header:
        writer.writerow(["doc_id", "index", "label", "probability", *(f"p_{l}" for l in labels), "text"])
    for doc in docs:
        for i, p in enumerate(doc.paragraphs):
            scores = p.scores or {}
            writer.writerow([doc.id, i, p.label, f"{scores.get(p.label, 0.0):.4f}",
                             *(f"{scores.get(l, 0.0):.4f}" for l in labels), p.text])


def write_table(docs: Iterable[Document], stream: IO[str], header: bool = True, width: int = 100) -> None:
    """A plain, aligned table for people: index, label, probability and the start of the text."""
    for doc in docs:
        stream.write(f"# {doc.id}\n")
        for i, p in enumerate(doc.paragraphs):
            prob = (p.scores or {}).get(p.label, 0.0)
            text = " ".join(p.text.split())
            if len(text) > width:
                text = text[: width - 1] + "…"
            stream.write(f"{i:>4}  {p.label or '-':<11} {prob:5.2f}  {text}\n")
        stream.write("\n")


# Each writer takes (documents, stream, header): `header` is False for every batch after the first.
WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "table": write_table}
