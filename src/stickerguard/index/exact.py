"""Exact-value index for MD5/SHA-256 file hashes."""

from __future__ import annotations

from collections.abc import Sequence


class ExactIndex:
    """Map of hash value -> ids holding it, for exact signals (``md5``, ``sha256``).

    Values are compared as given (stickerguard passes validated lowercase hex); several
    ids may share one value (the same file in two banks). Lookup is O(1).
    """

    def __init__(self) -> None:
        self._by_value: dict[str, list[int]] = {}
        self._by_id: dict[int, str] = {}

    def __len__(self) -> int:
        """Number of (id, value) entries held."""
        return len(self._by_id)

    def add(self, ids: Sequence[int], values: Sequence[str]) -> None:
        """Add ``values[i]`` under ``ids[i]``.

        Raises:
            ValueError: lengths differ, or an id is repeated or already present
                (nothing is added then).
        """
        if len(ids) != len(values):
            raise ValueError(f"{len(ids)} ids but {len(values)} values")
        seen: set[int] = set()
        for ident in ids:
            if ident in self._by_id or ident in seen:
                raise ValueError(f"id {ident} is already in the index")
            seen.add(ident)
        for ident, value in zip(ids, values):
            self._by_id[int(ident)] = value
            self._by_value.setdefault(value, []).append(int(ident))

    def remove(self, ids: Sequence[int]) -> int:
        """Remove these ids; unknown ids are ignored. Returns how many were removed."""
        removed = 0
        for ident in ids:
            value = self._by_id.pop(int(ident), None)
            if value is None:
                continue
            removed += 1
            holders = self._by_value[value]
            holders.remove(int(ident))
            if not holders:
                del self._by_value[value]
        return removed

    def value_of(self, ident: int) -> str:
        """The value held under ``ident``; raises KeyError if the id is not held."""
        return self._by_id[int(ident)]

    def lookup(self, value: str) -> list[int]:
        """Ids holding exactly ``value``, in insertion order (empty list if none)."""
        return list(self._by_value.get(value, ()))
