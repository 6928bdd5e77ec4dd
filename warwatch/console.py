"""The one place user-facing output goes through (rich): tables, progress, errors.

Messages are text, never rich markup: an error quoting a URL, a regex (``[a-z0-9-]+``) or a
crawled title (a WordPress ``[/caption]`` leftover) is printed as it is. :func:`error`,
:func:`info` and :func:`stage` escape what they are given; the few fixed strings that style
themselves go to ``console.print`` directly. Emoji codes (``:fire:``) are not replaced either."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")


def info(message: str) -> None:
    console.print(escape(message))


@contextmanager
def progress() -> Iterator[Progress]:
    """A progress display; quiet (no live bars) when stdout is not a terminal."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not sys.stdout.isatty(),
        transient=False,
    )
    with bar:
        yield bar


def stage(message: str) -> None:
    """One line per pipeline stage, so logs read well without a terminal too."""
    console.print(f"[cyan]→[/] {escape(message)}")


def kv_table(title: str, rows: list[tuple[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title, style="italic"), show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    for key, value in rows:
        table.add_row(Text(str(key)), Text(str(value)))
    console.print(table)
