"""Errors raised by readers, and helpers that keep their messages to one line."""

from __future__ import annotations

import os
import re


class ReadError(Exception):
    """A file or layer could not be read.

    ``str(error)`` is one line that names the file (and the layer, city object or field
    where known), fit for a status bar or the CLI's stderr.
    """

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and newlines, and cut very long text with an ellipsis."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_reason(exc: BaseException) -> str:
    """The useful tail of a GDAL/driver message: "…failed: database disk image is malformed; …" → the cause."""
    text = one_line(str(exc) or type(exc).__name__)
    if "failed: " in text:
        text = text.rsplit("failed: ", 1)[1]
    # GDAL often repeats the same cause joined by "; "
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if parts:
        text = parts[0]
    return one_line(text, 160)


def display_name(path: str | os.PathLike[str]) -> str:
    """The file name shown in messages (base name, so messages stay short and stable)."""
    return os.path.basename(os.fspath(path)) or os.fspath(path)


def cap_list(values: list[object] | tuple[object, ...], limit: int = 10) -> str:
    """"1, 2, 3" or "1, 2, … (+40 more)" for feature id lists inside warnings."""
    shown = ", ".join(str(v) for v in values[:limit])
    extra = len(values) - limit
    return f"{shown}, … (+{extra} more)" if extra > 0 else shown
