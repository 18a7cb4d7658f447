"""Failed authentications per client address in a sliding minute, shared by every process that
serves one database.

The limit on failed authentications (routes/middleware.py ThrottleFailedAuthentication) must hold
across uvicorn workers: a count in each process would let a client multiply the limit by the
number of workers. The counts live in a small file beside the database, `<db>.auth-failures`,
which every worker opens, as they do `<db>.key-revocations`:

- the window slides (API-operations.md, "Precise points"): an address is over the limit when
  `limit` of its failures fall within the last WINDOW_SECONDS, so failures bunched around the end of
  one minute and the start of the next count together. Each slot keeps the times of the address's
  last `limit` failures in a ring: the limit-th newest still in the window means over, and the
  address is free again when that one leaves the window (Retry-After). Refused requests are
  failures too: a client that keeps guessing stays refused until it pauses for the window;
- a fixed table of slots (about 1 MiB, allocated when the file is made): it never grows, whatever
  addresses clients come from, and a write never needs new disk space;
- an address's slot is chosen by a keyed hash (BLAKE2b with a random key kept in the file's
  header), so a client cannot pick addresses that land on another address's slot; a slot whose
  newest failure left the window is free. When all `PROBE` candidates of an address are in use the
  one idle longest is taken over; only a client with more addresses than there are slots gets
  there, and a limit per address cannot hold such a client back anyway;
- one count is an exclusive flock, two small reads, an fstat and one slot write: microseconds,
  spent only when authentication failed. A valid key never touches the file.

SQLite would share the counts too, but its file grows with every address seen (pruning, a cap),
and a writer waiting for its lock sleeps inside the event loop. Redis would be a second service to
run for one counter.

The wall clock (time.time()) dates the failures: it is the clock every process agrees on. A
failure dated after now (the clock was set back) counts as outside the window.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

WINDOW_SECONDS = 60.0
# Slots are sized to keep the whole table about this big, whatever the limit.
TABLE_BYTES = 1 << 20
MOST_SLOTS = 32 * 1024
FEWEST_SLOTS = 64
PROBE = 8
MAGIC = b"garage-authfail2"
# magic, hash key, slot count, limit (the ring's length)
HEADER = struct.Struct("<16s32sII8x")
# address digest, when its current refusal ends (logged once per refusal), the ring's next index
SLOT_HEAD = struct.Struct("<16sdI4x")


def auth_failures_path(database: Path) -> Path:
    return database.with_name(database.name + ".auth-failures")


@dataclass(frozen=True)
class Tally:
    """What one failure means for its address."""

    over: bool  # `limit` failures were already within the window: refuse this one
    first_refusal: bool  # the first refusal since the address was last free (to log it once)
    retry_after: float  # seconds until fewer than `limit` failures are in the window (0 when not over)


class FailedAuthentications:
    """The failures in one `<db>.auth-failures` file; `record()` counts one and says the tally.

    Every process sharing a file must use the same `limit` and `slots`: a file made otherwise is
    made anew (forgetting its counts)."""

    def __init__(self, path: Path, *, limit: int, slots: int | None = None) -> None:
        if limit < 1:
            raise ValueError("the limit is at least 1")
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not inherited by the query engine the client spawns (PEP 446); private to the owner.
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.path = path
        self.limit = limit
        self._ring = struct.Struct(f"<{limit}d")
        self._slot_size = SLOT_HEAD.size + self._ring.size
        self._slots = slots or max(FEWEST_SLOTS, min(MOST_SLOTS, TABLE_BYTES // self._slot_size))
        # PROBE - 1 slots past the end, so that an address's candidates are one contiguous read
        self._size = HEADER.size + (self._slots + PROBE - 1) * self._slot_size

    def record(self, address: str, now: float) -> Tally:
        with self._locked():
            key = self._key()
            digest = hashlib.blake2b(address.encode("utf-8", "surrogateescape"), key=key, digest_size=16).digest()
            first = HEADER.size + int.from_bytes(digest[:8], "little") % self._slots * self._slot_size
            raw = os.pread(self._fd, PROBE * self._slot_size, first)
            slots = [self._unpack(raw, index * self._slot_size) for index in range(PROBE)]
            index = self._slot_for(digest, slots, now)
            held, refused_until, head, times = slots[index]
            if held != digest:  # a new address, or one whose slot was taken over: no past failures
                refused_until, head, times = 0.0, 0, [0.0] * self.limit
            over = sum(1 for moment in times if _in_window(moment, now)) >= self.limit
            times[head] = now  # the ring keeps the newest `limit` failures: the oldest goes
            head = (head + 1) % self.limit
            retry_after, first_refusal = 0.0, False
            if over:
                # free again when the oldest of the newest `limit` failures leaves the window
                retry_after = min(times) + WINDOW_SECONDS - now
                first_refusal = refused_until <= now
                refused_until = now + retry_after
            packed = SLOT_HEAD.pack(digest, refused_until, head) + self._ring.pack(*times)
            os.pwrite(self._fd, packed, first + index * self._slot_size)
        return Tally(over=over, first_refusal=first_refusal, retry_after=retry_after)

    def _unpack(self, raw: bytes, offset: int) -> tuple[bytes, float, int, list[float]]:
        held, refused_until, head = SLOT_HEAD.unpack_from(raw, offset)
        times = list(self._ring.unpack_from(raw, offset + SLOT_HEAD.size))
        return bytes(held), refused_until, head % self.limit, times

    @staticmethod
    def _slot_for(digest: bytes, slots: list[tuple[bytes, float, int, list[float]]], now: float) -> int:
        """The address's own slot if it has one, else a free one, else the one idle longest."""

        def newest(index: int) -> float:
            return max((moment for moment in slots[index][3] if moment <= now), default=0.0)

        mine = next((index for index, slot in enumerate(slots) if slot[0] == digest), None)
        if mine is not None:
            return mine
        free = next((index for index in range(len(slots)) if not _in_window(newest(index), now)), None)
        return free if free is not None else min(range(len(slots)), key=newest)

    def _key(self) -> bytes:
        """The hash key in the header; a file that is not a table of this shape (new, damaged, made
        with another slot count or limit) is made anew, with a new key, which forgets every count."""
        magic, key, slots, limit = HEADER.unpack(os.pread(self._fd, HEADER.size, 0).ljust(HEADER.size, b"\0"))
        shaped = slots == self._slots and limit == self.limit and os.fstat(self._fd).st_size == self._size
        if magic == MAGIC and shaped:
            return bytes(key)
        key = secrets.token_bytes(32)
        os.ftruncate(self._fd, 0)
        os.posix_fallocate(self._fd, 0, self._size)
        os.pwrite(self._fd, HEADER.pack(MAGIC, key, self._slots, self.limit), 0)
        return key

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Held for a few system calls: a worker waiting here waits microseconds.
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _in_window(moment: float, now: float) -> bool:
    return now - WINDOW_SECONDS < moment <= now
