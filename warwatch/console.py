"""The one place user-facing output goes through (rich): tables, progress, errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}")


def info(message: str) -> None:
    console.print(message)


@contextmanager
def progress() -> Iterator[Progress]:
    """A progress display; quiet (no live bars) when stdout is not a terminal."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
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
    console.print(f"[cyan]→[/] {message}")


def kv_table(title: str, rows: list[tuple[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)
