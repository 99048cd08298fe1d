"""The Typer app and the error handling every command shares."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

import typer

from segclf.errors import SegclfError

app = typer.Typer(
    name="segclf",
    help="Label every paragraph of a news page: reported, quote, caption, boilerplate or opinion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"segclf: error: {message}", err=True)
    raise typer.Exit(code)


def reports_errors(func: F) -> F:
    """Turn SegclfError into a one-line message on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SegclfError as error:
            fail(str(error))
        except KeyboardInterrupt:
            typer.echo("segclf: interrupted", err=True)
            raise typer.Exit(130)
        except BrokenPipeError:  # e.g. `segclf predict ... | head`
            sys.stderr.close()
            raise typer.Exit(0)

    return wrapper  # type: ignore[return-value]
