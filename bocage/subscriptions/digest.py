"""When a notification that is part of a digest may leave. Pure.

A digest coalesces a recipient's notifications so that at most one message
leaves per window: the first one after a quiet window leaves at once, the
next ones wait for the end of the window and leave together (the delivery
worker merges the notifications of one recipient that are due at the same
time into one message).
"""

from __future__ import annotations


def digest_slot(last_slot: float | None, now: float, window_s: float) -> float:
    """When a notification queued at ``now`` may leave, given the time the
    previous one of the same recipient was scheduled (``last_slot``)."""
    if window_s <= 0 or last_slot is None or now >= last_slot + window_s:
        return now  # quiet for a whole window: at once
    if now <= last_slot:
        return last_slot  # a digest is waiting: join it
    return last_slot + window_s  # one left less than a window ago: next window
