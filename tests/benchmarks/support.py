"""Shared pieces of the benchmarks: the server process, medians, a figure record."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[2]
#: Keys in Anthropic's shape that the loopback server accepts (never real credentials).
OLD_KEY = "sk-ant-api03-" + "bench0old" * 9 + "oldAA"
NEW_KEY = "sk-ant-api03-" + "bench1new" * 9 + "newAA"


@dataclass
class Figure:
    """One row of the table: what was measured, against which target, and whether it passed."""

    name: str
    measured: float | None
    target: str
    passed: bool | None
    unit: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.name,
            "measured": self.measured,
            "unit": self.unit,
            "target": self.target,
            "pass": self.passed,
            "detail": self.detail,
            **({"note": self.note} if self.note else {}),
        }


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), p in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class LoopbackServer:
    """The loopback provider server in its own process; `url` is its root."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> Self:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.server", "--port", "0"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"loopback server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.url + "/_stats", timeout=5) as response:
            return json.loads(response.read())
