"""Options shared by several commands."""

from __future__ import annotations

from typing import List, Optional

import typer

ModelOption = typer.Option(None, "--model", "-m", help="Model file (default: $SEGCLF_MODEL or models/default.joblib).")
DataArgument = typer.Argument(..., help="Labeled corpora: JSONL documents, CSV/TSV with doc_id,text,label, or "
                                             "labeled HTML pages.")
FormatOption = typer.Option("auto", "--format", "-f", help="Input format: auto, jsonl, csv, tsv, text or html.")

__all__ = ["ModelOption", "DataArgument", "FormatOption", "List", "Optional"]
