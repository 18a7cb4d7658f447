"""The long crash test (issue 5): 20 cycles (or --cycles N) of SIGKILL to a 2-worker uvicorn
serving check-ins and check-outs from concurrent clients; after each restart every acknowledged
write must be stored and API.md's invariants must hold. tests/ops/test_crash.py is the short CI
version of the same run.

    .venv/bin/python bench/crash_test.py [--cycles 20] [--clients 4] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ops.crash_support import run_crash_cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="garage-crash-") as tmp:
        ledger = run_crash_cycles(Path(tmp), args.cycles, clients=args.clients, seed=args.seed, report=print)
    print(
        f"OK: {args.cycles} SIGKILL cycles, {len(ledger.checked_in)} check-ins and {len(ledger.checked_out)} "
        f"check-outs acknowledged, all stored; invariants hold ({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
