"""How a command reports its progress: a `Reporter` on the console's error output.

Status lines always, detail lines with -v only (cleo's own verbosity check), each written raw:
a message is plain text, never read as cleo's markup (a path or a registry's words may hold
`<...>`). stdout carries the command's result only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from cleo.io.outputs.output import Output


class ConsoleReporter:
    def __init__(self, output: Output) -> None:
        from cleo.io.outputs.output import Type
        from cleo.io.outputs.output import Verbosity

        self._output = output
        self._raw = Type.RAW
        self._verbose = Verbosity.VERBOSE

    def status(self, message: str) -> None:
        self._output.write_line(message, type=self._raw)

    def detail(self, message: str) -> None:
        self._output.write_line(message, verbosity=self._verbose, type=self._raw)
