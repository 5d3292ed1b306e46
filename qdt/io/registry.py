"""Reader registry: file formats register by decorator with a kind and file-name patterns.

A pattern (``"*.gpkg"``) belongs to one reader; registering it again raises. The one
exception is a pattern that several formats really share (``"*.json"`` is both GeoJSON
and CityJSON): it may be shared only when every reader claiming it supplies a ``sniff``
function that recognises its content, and :meth:`ReaderRegistry.reader_for` asks them in
registration order.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qdt.io.errors import ReadError, display_name

if TYPE_CHECKING:
    from qdt.io.base import Reader

SniffFn = Callable[[str], bool]
KINDS = ("vector", "raster", "citymodel", "tileset")


class RegistryError(ValueError):
    """A reader registration clashes with an existing one."""


@dataclass(frozen=True)
class ReaderSpec:
    """One registered reader: its name, layer kind, file-name patterns and optional sniffer."""

    name: str
    kind: str
    patterns: tuple[str, ...]
    reader: Reader
    sniff: SniffFn | None = None


class ReaderRegistry:
    """Maps file names to readers. Module-level :data:`READERS` is the one the app uses."""

    def __init__(self) -> None:
        self._specs: dict[str, ReaderSpec] = {}
        self._by_pattern: dict[str, list[str]] = {}

    def register(self, kind: str, patterns: tuple[str, ...] | list[str], *, name: str | None = None,
                 sniff: SniffFn | None = None) -> Callable[[type], type]:
        """Class decorator: ``@register_reader("vector", ("*.gpkg",))`` on a :class:`Reader` subclass.

        Raises
        ------
        RegistryError
            If the name is taken, the kind is unknown, or a pattern is already claimed
            (unless both claims come with a ``sniff`` function).
        """
        if kind not in KINDS:
            raise RegistryError(f"unknown reader kind {kind!r} (expected one of {', '.join(KINDS)})")
        norm = tuple(p.lower() for p in patterns)

        def decorate(cls: type) -> type:
            reader_name = name or cls.__name__
            if reader_name in self._specs:
                raise RegistryError(f"a reader named {reader_name!r} is already registered")
            for pattern in norm:
                for other in self._by_pattern.get(pattern, []):
                    if sniff is None or self._specs[other].sniff is None:
                        raise RegistryError(f"file pattern {pattern!r} is already registered by reader {other!r}")
            spec = ReaderSpec(reader_name, kind, norm, cls(), sniff)
            self._specs[reader_name] = spec
            for pattern in norm:
                self._by_pattern.setdefault(pattern, []).append(reader_name)
            return cls

        return decorate

    def unregister(self, name: str) -> None:
        spec = self._specs.pop(name)
        for pattern in spec.patterns:
            self._by_pattern[pattern].remove(name)
            if not self._by_pattern[pattern]:
                del self._by_pattern[pattern]

    @property
    def specs(self) -> list[ReaderSpec]:
        return list(self._specs.values())

    def patterns(self) -> list[str]:
        return sorted(self._by_pattern)

    def reader_for(self, path: str | os.PathLike[str], kind: str | None = None) -> ReaderSpec:
        """The reader for ``path`` (optionally restricted to one kind).

        The most specific matching pattern wins (``*.city.json`` before ``*.json``);
        readers sharing a pattern are told apart by their ``sniff`` functions.

        Raises
        ------
        ReadError
            No reader matches, or the content matches none of the readers sharing the pattern.
        """
        path = os.fspath(path)
        base = os.path.basename(path).lower()
        matches = [p for p in self._by_pattern if fnmatch.fnmatchcase(base, p)]
        matches.sort(key=len, reverse=True)
        for pattern in matches:
            every = [self._specs[n] for n in self._by_pattern[pattern]]
            candidates = every
            if kind is not None:
                candidates = [c for c in every if c.kind == kind]
                self._refuse_other_kind(path, kind, every, candidates)
            if not candidates:
                continue
            if len(candidates) == 1:
                return candidates[0]
            if not os.path.exists(path):
                raise ReadError(f"cannot read {display_name(path)!r}: file not found")
            for spec in candidates:
                if spec.sniff is not None and spec.sniff(path):
                    return spec
            names = " or ".join(c.name for c in candidates)
            raise ReadError(f"cannot read {display_name(path)!r}: its content is not recognised as {names}")
        wanted = f" {kind}" if kind else ""
        raise ReadError(f"cannot read {display_name(path)!r}: no{wanted} reader for this file type "
                        f"(known: {', '.join(self.patterns())})")


    @staticmethod
    def _refuse_other_kind(path: str, kind: str, every: list[ReaderSpec], candidates: list[ReaderSpec]) -> None:
        """A file whose content is another kind's format (a CityJSON ``.json`` asked for as vector
        data) is named for what it is, not called a corrupt file of the wanted kind."""
        if len(every) == len(candidates) or not os.path.isfile(path):
            return
        if any(c.sniff is not None and c.sniff(path) for c in candidates):
            return
        other = next((c for c in every if c.kind != kind and c.sniff is not None and c.sniff(path)), None)
        if other is not None:
            label = {"citymodel": "3D city model", "vector": "vector", "raster": "raster"}
            wanted = " or ".join(c.name for c in candidates)
            raise ReadError(f"{display_name(path)!r} is not a {wanted} file: it is {other.name}, which QDT opens "
                            f"as a {label.get(other.kind, other.kind)} layer, not a {label.get(kind, kind)} layer; "
                            "use it where such layers are accepted (a project, qdt info)")


READERS = ReaderRegistry()
register_reader = READERS.register


def reader_for(path: str | os.PathLike[str], kind: str | None = None) -> ReaderSpec:
    """The registered reader for ``path``; see :meth:`ReaderRegistry.reader_for`."""
    return READERS.reader_for(path, kind)
