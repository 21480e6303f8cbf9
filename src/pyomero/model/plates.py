"""Plate row and column letters: OMERO's bijective base 26 (0 -> A, 25 -> Z, 26 -> AA)."""

from __future__ import annotations


def row_letters(index: int) -> str:
    """The letters naming a 0-based plate row or column: ``A`` ... ``Z``, ``AA``, ``AB`` ..."""
    if index < 0:
        raise ValueError(f"grid index must be >= 0, got {index}")
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def row_index(letters: str) -> int:
    """The 0-based index of plate row letters, any case: ``A`` -> 0, ``AA`` -> 26."""
    index = 0
    for letter in letters.upper():
        index = index * 26 + (ord(letter) - ord("A") + 1)
    return index - 1
