"""Counts of what storing a feed's entries did, added up for a poll's summary line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ProcessStats:
    new: int = 0
    known: int = 0
    also_in_other_feed: int = 0
    duplicates: int = 0
    related: int = 0
    copies: int = 0

    def add(self, other: ProcessStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
