"""Writes a realistic MemoryStore snapshot of about N records (bench/import_bench.py, manual tests).

    .venv/bin/python bench/legacy_snapshot.py 100000 /tmp/snapshot.json

Shape as the legacy service dumped it: legacy ids, unnormalised plates ("ab-12 cd"), payment
`amount` as a float in currency units, no `tickets` section, some soft-deleted rows, ~5% of spots
under an ACTIVE session, every COMPLETED session with exactly one payment.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SPOT_TYPES = ["COMPACT"] * 3 + ["STANDARD"] * 5 + ["LARGE", "EV", "MOTORCYCLE", "HANDICAP"]
VEHICLE_TYPES = ["CAR"] * 6 + ["EV", "MOTORCYCLE", "VAN", "TRUCK"]
METHODS = ["CASH", "CARD", "CARD", "MOBILE", "VALIDATION"]
FITS = {"MOTORCYCLE": "MOTORCYCLE", "CAR": "STANDARD", "EV": "EV", "VAN": "LARGE", "TRUCK": "LARGE"}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plate(index: int, rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    a, b = divmod(index, 23 * 23)
    text = f"{letters[b // 23]}{letters[b % 23]}-{a:05d}"
    return rng.choice([text, text.lower(), f" {text.replace('-', ' ')} "])


def build(records: int, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    garage_count = max(1, records // 10_000)
    spot_count = max(garage_count * 10, records // 10)
    vehicle_count = max(10, records // 5)
    active_count = spot_count // 20
    session_count = max(active_count + 1, (records * 7 // 10 - garage_count + active_count) // 2)

    garages = [
        {
            "id": f"g-{g}",
            "name": f"Legacy garage {g}",
            "address": f"{g} Old Street",
            "timezone": "Europe/Berlin",
            "currency": "EUR",
            "capacity": spot_count // garage_count + 50,
            "createdAt": _iso(now - timedelta(days=800)),
        }
        for g in range(garage_count)
    ]
    spots = []
    for s in range(spot_count):
        g = s % garage_count
        spots.append(
            {
                "id": f"s-{s}",
                "garageId": f"g-{g}",
                "level": (s // garage_count) % 4,
                "number": f"{s // garage_count // 4 + 1}{'A' if s % 7 == 0 else ''}",
                "type": SPOT_TYPES[s % 12],
                "status": "MAINTENANCE" if s % 97 == 0 else "AVAILABLE",
                "createdAt": _iso(now - timedelta(days=700)),
            }
        )
    vehicles = []
    for v in range(vehicle_count):
        owner = (
            {"ownerName": f"Owner {v}", "ownerEmail": f"owner{v}@example.com", "ownerPhone": f"+49 30 {v:07d}"}
            if v % 3
            else {}
        )
        vehicles.append(
            {
                "id": f"v-{v}",
                "licensePlate": _plate(v, rng),
                "type": VEHICLE_TYPES[v % 10],
                **owner,
                "createdAt": _iso(now - timedelta(days=600)),
            }
        )

    sessions: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    free_spots = [spot for spot in spots if spot["status"] == "AVAILABLE"]
    for index in range(session_count):
        vehicle = vehicles[index % vehicle_count]
        active = index < active_count
        spot = free_spots[index] if active else spots[rng.randrange(spot_count)]
        start = now - timedelta(minutes=rng.randrange(30, 60 * 24 * 360))
        session: dict[str, Any] = {
            "id": f"x-{index}",
            "garageId": spot["garageId"],
            "spotId": spot["id"],
            "vehicleId": vehicle["id"],
            "licensePlate": vehicle["licensePlate"],
            "status": "ACTIVE" if active else "COMPLETED",
            "startTime": _iso(start),
        }
        if active:
            spot["status"] = "OCCUPIED"
        else:
            minutes = rng.randrange(5, 60 * 30)
            fee_cents = rng.randrange(0, 5000)
            session.update(endTime=_iso(start + timedelta(minutes=minutes)), feeCents=fee_cents)
            payments.append(
                {
                    "id": f"p-{index}",
                    "sessionId": session["id"],
                    "amount": fee_cents / 100,
                    "currency": "EUR",
                    "method": METHODS[index % 5],
                    "status": "REFUNDED" if index % 200 == 0 else "COMPLETED",
                    **({"reference": f"ref-{index}"} if index % 2 else {}),
                }
            )
        sessions.append(session)
    return {"garages": garages, "spots": spots, "vehicles": vehicles, "sessions": sessions, "payments": payments}


def main() -> None:
    records, path = int(sys.argv[1]), Path(sys.argv[2])
    snapshot = build(records)
    path.write_text(json.dumps(snapshot))
    print(
        f"{path}: "
        + ", ".join(f"{len(rows)} {kind}" for kind, rows in snapshot.items())
        + f" = {sum(map(len, snapshot.values()))} records"
    )


if __name__ == "__main__":
    main()
