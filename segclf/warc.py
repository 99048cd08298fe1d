"""WARC files to pages: stream the records with warcio, one at a time, whatever the file's size.

Response records with an HTML content type become PageInputs; every other record is Skipped with its kind. A record
that cannot be read (bad headers, a corrupt gzip member, a body shorter than declared, a crawler-truncated payload)
becomes a PageInput with an error, and reading goes on from the next record boundary found after it.

A .warc.gz written the standard way (each record its own gzip member) can also be read in byte ranges, each range
owning the records that start in it (record_range): the Spark job spreads one big file over many tasks that way.
"""

from __future__ import annotations

import gzip
import zlib
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader
from warcio.statusandheaders import StatusAndHeadersParserException

from segclf.html import MAX_PAGE_BYTES
from segclf.inputs import Item, Opener, PageInput, Skipped, open_local

HTML_TYPES = ("text/html", "application/xhtml+xml")
_READ_ERRORS = (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, zlib.error, OSError, ValueError,
                IndexError, KeyError, TypeError, AttributeError)  # warcio raises all of these on damaged input
_SCAN_CHUNK = 1 << 20
_MAX_FIRST_MEMBER = 64 << 20


class _QuietIterator(ArchiveIterator):
    """warcio's iterator, without its warning on stderr about a bad Content-Length (the record is still read)."""

    INC_RECORD = ""


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _record_page(path: str, record, offset: int, max_bytes: int) -> Item:
    """A response record as a page, or Skipped when it is not an HTML page."""
    headers = record.rec_headers
    rec_type = record.rec_type
    record_id = headers.get_header("WARC-Record-ID")
    page = PageInput(page_id=record_id or f"{path}@{offset}", source=path, offset=offset,
                     url=headers.get_header("WARC-Target-URI"), warc_record_id=record_id,
                     warc_date=headers.get_header("WARC-Date"))
    if rec_type != "response":
        return Skipped(path, f"WARC {rec_type} record")
    http = record.http_headers
    if http is None:  # dns: and other non-HTTP captures; an HTTP one whose headers would not parse is damage
        if "application/http" in (headers.get_header("Content-Type") or ""):
            page.error = "malformed WARC record: HTTP response headers that do not parse"
            return page
        return Skipped(path, f"non-HTTP response ({(page.url or '?').split(':', 1)[0]}:)")
    page.content_type = http.get_header("Content-Type")
    mime = _mime(page.content_type)
    if mime and mime not in HTML_TYPES:
        return Skipped(path, f"non-HTML response ({mime})")
    status = http.get_statuscode()
    if not (status or "").startswith("2"):
        return Skipped(path, f"HTTP status {status or 'missing'}")
    truncated = headers.get_header("WARC-Truncated")
    if truncated:
        page.error = f"truncated by the crawler (WARC-Truncated: {truncated})"
        return page
    try:
        data = record.content_stream().read(max_bytes + 1)
    except _READ_ERRORS as error:
        page.error = f"unreadable HTTP body ({type(error).__name__}: {error})"
        return page
    if len(data) > max_bytes:
        page.error = f"page too large: over the {max_bytes:,}-byte cap"
        return page
    raw = record.raw_stream
    if isinstance(raw, LimitReader) and raw.limit > 0 and not raw.read(1):
        page.error = f"truncated record: the body ends {raw.limit:,} bytes short of its Content-Length"
        return page
    declared = http.get_header("Content-Length")
    encoded = http.get_header("Content-Encoding") or http.get_header("Transfer-Encoding")
    if declared and declared.isdigit() and not encoded and len(data) < int(declared):
        page.error = f"truncated HTTP body: {len(data):,} of {int(declared):,} bytes"
        return page
    page.data = data
    return page


def _next_boundary(stream: BinaryIO, start: int, gzipped: bool) -> int | None:
    """The offset of the next record that can be read at or after `start`: a gzip member that opens with a WARC
    header in a .warc.gz file, a line starting 'WARC/1.' in a plain one. None at the end of the file."""
    marker = b"\x1f\x8b\x08" if gzipped else b"\nWARC/1."
    position = start
    while True:
        stream.seek(position)
        chunk = stream.read(_SCAN_CHUNK + len(marker))
        if len(chunk) < len(marker):
            return None
        found = chunk.find(marker)
        while found != -1:
            candidate = position + found + (0 if gzipped else 1)
            if not gzipped or _opens_warc_member(stream, candidate):
                return candidate
            found = chunk.find(marker, found + 1)
        position += _SCAN_CHUNK


def _opens_warc_member(stream: BinaryIO, offset: int) -> bool:
    stream.seek(offset)
    try:
        head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(stream.read(4096), 16)
    except zlib.error:
        return False
    return head.startswith(b"WARC/")


def iter_warc(path: str, max_bytes: int = MAX_PAGE_BYTES, *, start: int = 0, end: int | None = None,
              open_file: Opener = open_local) -> Iterator[Item]:
    """Every record of a WARC file (.warc or .warc.gz) as a PageInput or Skipped, in file order.

    With `start` and `end` (a range from record_range), only the records that start in [start, end): reading the
    ranges that record_range gives for a file, one after the other, gives exactly what reading it whole gives.
    """
    try:
        stream = open_file(path)
    except OSError as error:
        yield PageInput(page_id=path, source=path, error=f"cannot read the file ({error.strerror or error})")
        return
    with stream:
        gzipped = stream.read(2) == b"\x1f\x8b"
        first = start
        while start is not None:
            stream.seek(start)
            records = _QuietIterator(stream)
            iterator = iter(records)
            last_emitted, emitted = -1, 0
            while True:
                try:
                    record = next(iterator)
                except StopIteration:
                    start = None  # the end of the file
                    break
                except _READ_ERRORS as error:
                    if "non-chunked gzip" in str(error) and start == first == 0 and end is None:
                        yield from _iter_whole_gzip(path, max_bytes, skip=emitted, open_file=open_file)
                        return
                    # Failing on a record's headers leaves `offset` at that record; failing while reading through
                    # the body of one already given out leaves it at that one, which needs no second row.
                    failed_at = records.offset
                    if end is not None and failed_at >= end:
                        return
                    if failed_at != last_emitted:
                        reason = _fresh_reason(stream, failed_at) or " ".join(str(error).split()) or \
                            type(error).__name__
                        yield PageInput(page_id=f"{path}@{failed_at}", source=path, offset=failed_at,
                                        error=f"malformed WARC record at byte {failed_at:,} ({reason[:200]})")
                    start = _next_boundary(stream, failed_at + 1, gzipped)
                    break
                if end is not None and records.offset >= end:
                    return
                item = _record_page(path, record, records.offset, max_bytes)
                last_emitted, emitted = records.offset, emitted + 1
                item.size = _consumed(records)
                yield item


def _fresh_reason(stream: BinaryIO, offset: int) -> str | None:
    """What warcio says of the record at `offset` read from there alone: the same whatever was read before it (which
    changes warcio's message), so reading a file whole or in ranges gives the same error rows."""
    stream.seek(offset)
    try:
        next(iter(_QuietIterator(stream)))
    except _READ_ERRORS as error:
        return " ".join(str(error).split()) or type(error).__name__
    except StopIteration:
        pass
    return None


def _consumed(records: ArchiveIterator) -> int:
    """Bytes of the file the current record takes (read through to its end)."""
    try:
        return records.get_record_length()
    except _READ_ERRORS:
        return 0


def _iter_whole_gzip(path: str, max_bytes: int, skip: int, open_file: Opener = open_local) -> Iterator[Item]:
    """A WARC compressed as one gzip stream instead of one member per record: readable, though only from the
    start. Offsets are then positions in the uncompressed stream."""
    seen = 0
    try:
        with open_file(path) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            records = _QuietIterator(stream)
            for record in records:
                seen += 1
                if seen <= skip:
                    continue
                yield _record_page(path, record, records.offset, max_bytes)
    except _READ_ERRORS as error:
        yield PageInput(page_id=f"{path}@record{seen}", source=path,
                        error=f"malformed WARC record (record {seen} of a single-stream gzip file: {error}); "
                              f"the rest of this file cannot be read")


# -- reading a .warc.gz in byte ranges -------------------------------------------------------------------------

def splittable(stream: BinaryIO) -> bool:
    """Whether a WARC file can be read in byte ranges: it is gzipped one record per member (as the WARC standard
    recommends and crawlers write), which its first member, a WARC record followed by another member, shows. A plain
    .warc is not (a line starting 'WARC/1.' inside a page could pass for a record boundary), nor is a single gzip
    stream."""
    stream.seek(0)
    if stream.read(3) != b"\x1f\x8b\x08":
        return False
    stream.seek(0)
    unzip = zlib.decompressobj(zlib.MAX_WBITS | 16)
    head = b""
    read = 0
    try:
        while not unzip.eof:
            chunk = stream.read(_SCAN_CHUNK)
            read += len(chunk)
            if not chunk or read > _MAX_FIRST_MEMBER:  # truncated, or one stream (or a giant first record)
                return False
            data = unzip.decompress(chunk)
            if len(head) < 16:
                head += data[:16]
    except zlib.error:
        return False
    if not head.startswith(b"WARC/"):
        return False
    stream.seek(read - len(unzip.unused_data))  # where the first member ends
    return stream.read(3) == b"\x1f\x8b\x08"


def record_range(stream: BinaryIO, start: int, end: int, size: int) -> tuple[int, int | None] | None:
    """The records a byte range [start, end) of a splittable WARC file owns, as (first, stop) for iter_warc: from
    the first record boundary at or after `start` (0 for the range that starts the file) to the first at or after
    `end` (None: to the end of the file). None when no record starts in the range. Ranges that tile a file own
    each of its records exactly once."""
    first = 0 if start == 0 else _next_boundary(stream, start, gzipped=True)
    if first is None or first >= size:
        return None
    stop = None if end >= size else _next_boundary(stream, end, gzipped=True)
    if stop is not None and first >= stop:
        return None
    return first, stop
