"""Occupancy totals from the per-(level, type, status) counts (pure)."""

from __future__ import annotations

from garage.repositories.spots import SpotCount
from garage.services.garages import occupancy_of


def test_totals_sum_the_groups_levels_ascend_types_follow_the_contract_order() -> None:
    occupancy = occupancy_of([
        SpotCount(level=0, type="EV", status="AVAILABLE", count=2),
        SpotCount(level=0, type="COMPACT", status="OCCUPIED", count=3),
        SpotCount(level=-1, type="EV", status="MAINTENANCE", count=1),
        SpotCount(level=-1, type="MOTORCYCLE", status="RESERVED", count=4),
    ])
    assert (occupancy.totals.total, occupancy.totals.available, occupancy.totals.occupied) == (10, 2, 3)
    assert (occupancy.totals.reserved, occupancy.totals.maintenance) == (4, 1)
    assert list(occupancy.by_level) == [-1, 0]
    assert occupancy.by_level[-1].total == 5 and occupancy.by_level[0].total == 5
    assert list(occupancy.by_type) == ["MOTORCYCLE", "COMPACT", "EV"]
    assert occupancy.by_type["EV"].total == 3 and occupancy.by_type["EV"].maintenance == 1


def test_an_unknown_type_sorts_last_instead_of_failing() -> None:
    occupancy = occupancy_of([
        SpotCount(level=0, type="LEGACY", status="AVAILABLE", count=1),
        SpotCount(level=0, type="HANDICAP", status="AVAILABLE", count=1),
    ])
    assert list(occupancy.by_type) == ["HANDICAP", "LEGACY"]


def test_no_spots_no_groups() -> None:
    occupancy = occupancy_of([])
    assert occupancy.totals.total == 0 and occupancy.by_level == {} and occupancy.by_type == {}
