"""What the batch scorer reads: HTML files (gzipped or not), directories of them, WARC files and JSONL documents.

Every input record comes out as one PageInput (a page to score, or the reason it could not be read) or one Skipped
(a record that is not a page: a WARC request, a file of another kind). Nothing is dropped without a trace, and the
order is deterministic, so an interrupted run can be resumed batch by batch.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

from segclf.documents import Document
from segclf.errors import SegclfError
from segclf.html import MAX_PAGE_BYTES

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
WARC_SUFFIXES = (".warc",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_GZIP_MAGIC = b"\x1f\x8b"
UNREADABLE = "unreadable"  # the kind of a folder that could not be listed


@dataclass
class PageInput:
    """One page to score, or the reason it could not be read (then `error` is set and there is nothing to parse)."""

    page_id: str  # unique in a run: the WARC-Record-ID, the file's path, or the JSONL document's id
    source: str  # the input file it came from
    offset: int | None = None  # byte offset of the WARC record, or line number in a JSONL file
    url: str | None = None
    warc_record_id: str | None = None
    warc_date: str | None = None
    content_type: str | None = None  # the HTTP Content-Type, where there was one
    data: bytes | None = None  # the page's HTML bytes
    document: Document | None = None  # JSONL input: the paragraphs are given
    error: str | None = None
    size: int = 0  # input bytes this record took (compressed, as stored), for progress


@dataclass
class Skipped:
    """A record that is not a page (counted in the run summary under `reason`)."""

    source: str
    reason: str
    size: int = 0


Item = PageInput | Skipped
Opener = Callable[[str], BinaryIO]  # a file's name to a seekable binary stream on it (the Spark job opens URIs)


def open_local(path: str) -> BinaryIO:
    return open(path, "rb")


def _stream_size(stream: BinaryIO) -> int:
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    return size


def kind_of(path: str) -> str | None:
    """'html', 'warc', 'jsonl' from the file name (a .gz suffix allowed), or None."""
    name = path.lower().removesuffix(".gz")
    for kind, suffixes in (("html", HTML_SUFFIXES), ("warc", WARC_SUFFIXES), ("jsonl", JSONL_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    return None


def _sniff_kind(path: str, open_file: Opener = open_local) -> str:
    """The kind of a file named on the command line with an unknown extension, from its first bytes."""
    try:
        with open_file(path) as stream:
            head = stream.read(64)
            if head.startswith(_GZIP_MAGIC):
                stream.seek(0)
                with gzip.GzipFile(fileobj=stream) as unzipped:
                    head = unzipped.read(64)
    except (OSError, EOFError, zlib.error):
        return "html"  # reading it as a page gives the error row
    head = head.lstrip()
    if head.startswith(b"WARC/"):
        return "warc"
    if head.startswith(b"{"):
        return "jsonl"
    return "html"


def expand_inputs(paths: Sequence[str]) -> Iterator[tuple[str, str | None]]:
    """(file, kind) for each input in order; directories are walked recursively in sorted order.

    A file in a directory that is not HTML, WARC or JSONL comes out with kind None (to be counted as skipped).
    Raises SegclfError for an input that does not exist: that is a mistake in the command, not a bad page.
    """
    for path in paths:
        if os.path.isdir(path):
            unreadable: list[OSError] = []
            for folder, dirs, files in os.walk(path, onerror=unreadable.append):
                while unreadable:  # a folder that cannot be listed is reported, not passed over in silence
                    error = unreadable.pop(0)
                    yield error.filename or folder, UNREADABLE
                dirs.sort()
                for name in sorted(files):
                    file = os.path.join(folder, name)
                    yield file, kind_of(file)
            for error in unreadable:
                yield error.filename or path, UNREADABLE
        elif os.path.exists(path):
            yield path, kind_of(path) or _sniff_kind(path)
        else:
            raise SegclfError(f"{path}: no such file or directory")


def check_inputs(paths: Sequence[str]) -> None:
    if not paths:
        raise SegclfError("no inputs given")
    for path in paths:
        if not os.path.exists(path):
            raise SegclfError(f"{path}: no such file or directory")


def total_size(paths: Sequence[str]) -> int:
    """Bytes of all input files, for a progress estimate."""
    total = 0
    for file, kind in expand_inputs(paths):
        try:
            total += os.path.getsize(file)
        except OSError:
            pass
    return total


def read_html_file(path: str, max_bytes: int = MAX_PAGE_BYTES, open_file: Opener = open_local) -> PageInput:
    """One HTML file as a page; gzip is recognised by its bytes, whatever the name says."""
    page = PageInput(page_id=path, source=path)
    try:
        with open_file(path) as stream:
            page.size = _stream_size(stream)
            if stream.read(2) == _GZIP_MAGIC:
                stream.seek(0)
                with gzip.GzipFile(fileobj=stream) as unzipped:
                    data = unzipped.read(max_bytes + 1)  # the cap also defuses gzip bombs
            elif page.size > max_bytes:
                data = b"\0" * (max_bytes + 1)  # not read: its size alone makes it an error
            else:
                stream.seek(0)
                data = stream.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        page.error = f"truncated or corrupt gzip file ({error})"
        return page
    except OSError as error:
        page.error = f"cannot read the file ({error.strerror or error})"
        return page
    if len(data) > max_bytes:
        page.error = f"page too large: over the {max_bytes:,}-byte cap"
    else:
        page.data = data
    return page


def iter_jsonl(path: str, max_bytes: int = MAX_PAGE_BYTES, open_file: Opener = open_local) -> Iterator[PageInput]:
    """JSONL documents (as `segclf predict` reads them), one page each; a bad line becomes an error page."""
    from segclf.io import document_from_record  # the JSONL document schema lives with the other readers

    try:
        with open_file(path) as raw, _maybe_gunzip(raw) as stream:
            number = 0
            while True:
                line = stream.readline(max_bytes + 1)
                if not line:
                    break
                number += 1
                where = f"{path}:{number}"
                page = PageInput(page_id=where, source=path, offset=number, size=len(line))
                if len(line) > max_bytes and not line.endswith(b"\n"):
                    while line and not line.endswith(b"\n"):  # skip the rest of the over-long line
                        line = stream.readline(max_bytes + 1)
                        page.size += len(line)
                    page.error = f"document too large: over the {max_bytes:,}-byte cap"
                    yield page
                    continue
                if not line.strip():
                    continue
                try:
                    record = json.loads(line.decode("utf-8-sig" if number == 1 else "utf-8"))
                    doc = document_from_record(record, where)
                except UnicodeDecodeError as error:
                    page.error = f"not valid UTF-8 (byte {error.start + 1} of the line)"
                except json.JSONDecodeError as error:
                    page.error = f"malformed JSON ({error.msg} at column {error.colno})"
                except SegclfError as error:
                    page.error = str(error).removeprefix(f"{where}: ")
                else:
                    page.page_id = doc.id
                    page.document = doc
                    page.url = doc.fields.get("url") if isinstance(doc.fields.get("url"), str) else None
                yield page
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        yield PageInput(page_id=f"{path}:end", source=path, error=f"truncated or corrupt gzip file ({error})")
    except OSError as error:
        yield PageInput(page_id=path, source=path, error=f"cannot read the file ({error.strerror or error})")


def _maybe_gunzip(stream: BinaryIO) -> BinaryIO:
    """The stream itself, or a gzip reader on it when its bytes start like gzip."""
    gzipped = stream.read(2) == _GZIP_MAGIC
    stream.seek(0)
    return gzip.GzipFile(fileobj=stream, mode="rb") if gzipped else contextlib.nullcontext(stream)


def iter_inputs(paths: Sequence[str], max_bytes: int = MAX_PAGE_BYTES) -> Iterator[Item]:
    """Every record of every input, in a deterministic order, streamed (one page in memory at a time)."""
    for file, kind in expand_inputs(paths):
        yield from iter_file(file, kind, max_bytes)


def iter_file(file: str, kind: str | None, max_bytes: int = MAX_PAGE_BYTES, open_file: Opener = open_local,
              size: int | None = None) -> Iterator[Item]:
    """Every record of one input file of a known kind (as expand_inputs gives it). `open_file` opens it by name
    (the default: a local file); `size` is its size in bytes where the caller knows it."""
    from segclf.warc import iter_warc

    if kind == "html":
        yield read_html_file(file, max_bytes, open_file)
    elif kind == "warc":
        yield from iter_warc(file, max_bytes, open_file=open_file)
    elif kind == "jsonl":
        yield from iter_jsonl(file, max_bytes, open_file)
    elif kind == UNREADABLE:
        yield PageInput(page_id=file, source=file, error="cannot list this folder (permission denied?)")
    else:
        yield Skipped(file, f"file of another kind ({Path(file).suffix or 'no extension'})",
                      _size(file) if size is None else size)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
