"""Which population figure a municipality's per-inhabitant costs may use.

A figure of year Y counts the inhabitants on 1 January of Y (as CBS states them). A
municipality that succeeded others in a merger pays, from the merger on, for contracts
covering their inhabitants too: a figure of its own counts them only when it describes a
day on or after the merger's effective date. For an earlier year the figure is the sum of
its own and every predecessor's figure of that same year, when all of them are loaded;
otherwise that year gives no figure (never estimated)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Merger:
    """Predecessors that continued in a successor from an effective date."""

    successor_id: uuid.UUID
    predecessor_ids: tuple[uuid.UUID, ...]
    effective_date: date


@dataclass(frozen=True)
class Figure:
    """Inhabitants of one year, with the source(s) stating them."""

    municipality_id: uuid.UUID
    year: int
    inhabitants: int
    source: str


Figures = Mapping[uuid.UUID, Mapping[int, Figure]]


def _covers(merger: Merger, year: int) -> bool:
    """Whether a figure of ``year`` (1 January) already counts the merged municipality."""
    return date(year, 1, 1) >= merger.effective_date


def _inhabitants(
    municipality_id: uuid.UUID,
    year: int,
    figures: Figures,
    mergers: Mapping[uuid.UUID, Sequence[Merger]],
    seen: frozenset[uuid.UUID],
) -> tuple[int, list[str]] | None:
    """Inhabitants of the municipality as it is now, counted in ``year``: its own figure
    plus, for every merger that year's figure predates, the predecessors' (recursively);
    None when one of them has no figure of that year."""
    own = figures.get(municipality_id, {}).get(year)
    if own is None or municipality_id in seen:
        return None
    total, sources = own.inhabitants, [own.source]
    for merger in mergers.get(municipality_id, ()):
        if _covers(merger, year):
            continue
        for predecessor in merger.predecessor_ids:
            part = _inhabitants(predecessor, year, figures, mergers, seen | {municipality_id})
            if part is None:
                return None
            total += part[0]
            sources.extend(part[1])
    return total, sources


def usable_figure(
    municipality_id: uuid.UUID,
    figures: Figures,
    mergers: Mapping[uuid.UUID, Sequence[Merger]],
) -> Figure | None:
    """The latest year that gives the municipality's whole population, or None."""
    for year in sorted(figures.get(municipality_id, {}), reverse=True):
        found = _inhabitants(municipality_id, year, figures, mergers, frozenset())
        if found is not None:
            inhabitants, sources = found
            source = "; ".join(dict.fromkeys(sources))
            return Figure(municipality_id, year, inhabitants, source)
    return None


def by_successor(mergers: Iterable[Merger]) -> dict[uuid.UUID, list[Merger]]:
    grouped: dict[uuid.UUID, list[Merger]] = {}
    for merger in mergers:
        grouped.setdefault(merger.successor_id, []).append(merger)
    return grouped
