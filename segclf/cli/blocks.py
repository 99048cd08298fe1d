from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from segclf.cli._app import app, reports_errors
from segclf.errors import SegclfError
from segclf.html import PageError, parse_page
from segclf.inputs import read_html_file
from segclf.io import STDIN


@app.command()
@reports_errors
def blocks(
    page: str = typer.Argument(..., help="An HTML file (.html, .htm, gzipped or not); '-' reads standard input."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per block, with its structure."),
    keep_hidden: bool = typer.Option(False, "--keep-hidden", help="Keep elements hidden with CSS or `hidden`."),
    content_type: Optional[str] = typer.Option(None, "--content-type",
                                               help="The HTTP Content-Type, for its charset."),
) -> None:
    """Show the text blocks of an HTML page, as the model sees them: index, tag, cues, link density, text."""
    if page == STDIN:
        data = sys.stdin.buffer.read()
    else:
        read = read_html_file(page)
        if read.error:
            raise SegclfError(f"{page}: {read.error}")
        data = read.data
    try:
        parsed = parse_page(data, content_type, keep_hidden=keep_hidden)
    except PageError as error:
        raise SegclfError(f"{page}: {error}") from None
    for index, paragraph in enumerate(parsed.paragraphs):
        s = paragraph.structure
        if as_json:
            typer.echo(json.dumps({"index": index, "text": paragraph.text, **s.as_dict()}, ensure_ascii=False))
        else:
            cues = ",".join(sorted(s.cues)) or "-"
            typer.echo(f"{index:>4}  {s.tag:<10} {cues:<18} {s.link_density:4.2f}  {paragraph.text}")
