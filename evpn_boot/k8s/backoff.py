"""Bounded, jittered exponential backoff (pure; the random source is injectable).

Every node of a pool boots at about the same time after a power event, so
retries against a recovering API server must spread out: each delay is drawn
uniformly from ``[(1 - jitter) * d, d]`` where ``d`` doubles per failure up to
``maximum``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random, repr=False)
    _failures: int = 0

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum) or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid backoff parameters: {self!r}")

    def next_delay(self) -> float:
        """The delay before the next attempt, after one more failure."""
        ceiling = min(self.maximum, self.initial * self.factor ** min(self._failures, 64))
        self._failures += 1
        return ceiling * (1 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self._failures = 0

    @property
    def failures(self) -> int:
        return self._failures
