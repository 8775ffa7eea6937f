"""Seeded randomness as pure functions: the same (seed, keys) always gives the same number.

A simulated value at time t must not depend on what was computed before (so a
backfill, a restart and a live run agree), hence no random generator state: a
number is a hash of the seed and of whatever identifies it (device, time slot...).
"""

from __future__ import annotations

import hashlib

_SCALE = 1.0 / float(1 << 64)


def unit(seed: int, *keys: object) -> float:
    """A number in [0, 1), uniform, determined by the seed and the keys."""
    text = f"{seed}|" + "|".join(str(k) for k in keys)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") * _SCALE


def between(lo: float, hi: float, seed: int, *keys: object) -> float:
    return lo + (hi - lo) * unit(seed, *keys)


def chance(p: float, seed: int, *keys: object) -> bool:
    return unit(seed, *keys) < p
