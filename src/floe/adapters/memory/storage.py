"""The in-memory adapter's object store: the files its tables would have on storage.

Data files are written when rows land in them, a manifest list and
manifests with each snapshot; nothing is removed but by maintenance (or a
purge), as on real storage. A failed write leaves what it wrote, as a
crashed writer does. The fake keeps no metadata files.
"""

from __future__ import annotations

import time

import attrs


def now_ms() -> int:
    """The present, milliseconds since the epoch: a stored file's modification time."""
    return time.time_ns() // 1_000_000


@attrs.frozen
class StoredObject:
    """One file: its size and when it was written."""

    size_bytes: int
    modified_ms: int


@attrs.define
class MemoryStorage:
    """Files by path, shared by every table of a warehouse (guarded by its lock)."""

    objects: dict[str, StoredObject] = attrs.field(factory=dict)

    def put(self, path: str, size_bytes: int, modified_ms: int | None = None) -> None:
        """Write a file (at least one byte: no real file is empty)."""
        when = now_ms() if modified_ms is None else modified_ms
        self.objects[path] = StoredObject(max(1, size_bytes), when)

    def size(self, path: str) -> int | None:
        """The file's size, ``None`` if it is not there."""
        stored = self.objects.get(path)
        return None if stored is None else stored.size_bytes

    def delete(self, path: str) -> StoredObject | None:
        """Remove a file; what was there (``None``: nothing)."""
        return self.objects.pop(path, None)

    def under(self, location: str) -> dict[str, StoredObject]:
        """The files below a directory (``location`` without a trailing slash)."""
        prefix = location.rstrip("/") + "/"
        return {p: o for p, o in self.objects.items() if p.startswith(prefix)}

    def purge(self, location: str) -> None:
        """Remove every file below a directory (a dropped table's purge)."""
        for path in self.under(location):
            del self.objects[path]
