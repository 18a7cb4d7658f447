"""Progress bars for people: click's bar on stderr, only when stderr is a terminal.

click's bar hides itself on a stream that is not a terminal but still prints its label there once
per bar; a command whose stderr is a log file or a pipe (cron, CI, a test) should write nothing
but its own messages, so off a terminal these bars write nothing at all. Each phase of a command
is one bar; starting the next phase finishes the previous bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TextIO

import click


class Bar:
    """One phase's bar. `advance` adds done units; `reach` sets how many are done in all (for
    callbacks that report running totals)."""

    def __init__(self, update: Callable[[int], None] | None) -> None:
        self._update = update
        self._done = 0

    def advance(self, units: int) -> None:
        self._done += units
        if self._update is not None:
            self._update(units)

    def reach(self, done: int) -> None:
        if done > self._done:
            self.advance(done - self._done)


class Phases:
    """A command's bars, one phase after another (see phase_bars)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = stream.isatty()
        self._current = ExitStack()

    def start(self, label: str, length: int) -> Bar:
        """A bar of `length` units for the next phase; the previous phase's bar is finished."""
        self.finish()
        if not self._shown or length <= 0:
            return Bar(None)
        bar = click.progressbar(length=length, label=label, file=self._stream)
        return Bar(self._current.enter_context(bar).update)

    def finish(self) -> None:
        self._current.close()
        self._current = ExitStack()


@contextmanager
def phase_bars(stream: TextIO | None = None) -> Iterator[Phases]:
    """Bars on `stream` (default: stderr as it is when called), silent when it is not a terminal."""
    phases = Phases(stream if stream is not None else sys.stderr)
    try:
        yield phases
    finally:
        phases.finish()
