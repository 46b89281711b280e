"""A fixed piece of pure-Python work, timed on one core at checkpoints of `make bench`, so a report shows whether
the machine itself was slower while some rows were measured.

Why: on the 2-core VM these numbers come from, the same code's CPU rows move by up to half between runs an hour
apart (hot path 67,000 and 111,000 users/s for one commit, measured back to back), with no steal time the guest can
see. A row measured in such a phase is not a regression of the code; the reference says which phase it was.
"""

from __future__ import annotations

import hashlib
import json
import time

from bench.hot_path import one_core

ROUNDS = 3


def _work() -> None:
    """A little of what the hot paths do: JSON, hashing, dicts and strings."""
    document = {"users": [{"email": f"user{n}@example.com", "n": n} for n in range(200)]}
    for _ in range(20):
        text = json.dumps(document)
        parsed = json.loads(text)
        for user in parsed["users"]:
            hashlib.sha256(user["email"].strip().lower().encode()).hexdigest()


def rate() -> float:
    """Rounds of the work a CPU second, the best of ROUNDS (what the machine can do, not what it happened to do)."""
    best = float("inf")
    with one_core():
        _work()  # warm
        for _ in range(ROUNDS):
            started = time.process_time()
            _work()
            best = min(best, time.process_time() - started)
    return 1 / best


def describe(checkpoints: list[tuple[str, float]]) -> str:
    """The checkpoints relative to the fastest of them, e.g. `start 1.00, segments 0.62, end 0.97`."""
    fastest = max(value for _, value in checkpoints)
    return ", ".join(f"{label} {value / fastest:.2f}" for label, value in checkpoints)
