"""Errors of attribute editing."""

from __future__ import annotations

from typing import Any


class EditError(Exception):
    """An edit that was refused; nothing changed. ``str()`` is one line for the user.

    Attributes
    ----------
    field
        The field concerned (None when the error is about the layer or the session).
    value
        The rejected value, as given.
    rule
        What was broken: ``"type"``, ``"range"``, ``"codelist"``, ``"required"``, ``"length"``,
        ``"pattern"``, ``"field"`` (no such field / not editable), ``"feature"`` (no such
        fid), ``"session"`` (not editable layer, closed session, …).
    """

    def __init__(self, message: str, *, field: str | None = None, value: Any = None, rule: str = "session") -> None:
        super().__init__(" ".join(str(message).split()))
        self.field = field
        self.value = value
        self.rule = rule
