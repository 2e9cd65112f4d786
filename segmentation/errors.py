"""The one exception users see: a bad input, told in one sentence."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: names the file, the column or row, and what was expected.

    Raised where the problem is found; only the command line renders it (one line on stderr, exit 2).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
