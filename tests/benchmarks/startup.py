"""Start-up: `keyturn --help` against a bare interpreter, and the import chain behind it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks.support import Figure, median


def keyturn_script() -> str:
    """The installed console script (what a user types), beside this interpreter."""
    script = Path(sys.executable).parent / "keyturn"
    if not script.exists():
        raise RuntimeError(f"no keyturn script at {script}: pip install -e . first")
    return str(script)


#: Bytecode is cached outside the tree, as an installed package has it. The sandbox these
#: benchmarks were written in sets PYTHONDONTWRITEBYTECODE=1, which makes every start
#: compile keyturn's modules from source (tui/cli.py alone: 15-25 ms); a user's pip install
#: writes .pyc files. Both commands run with the same environment, so the ratio is fair.
PYCACHE = "/tmp/keyturn-bench-pycache"


def bench_env(bytecode: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = PYCACHE
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _wall(command: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env=env)
    return time.perf_counter() - t0


def _paired(runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    bare_cmd = [sys.executable, "-c", "pass"]
    help_cmd = [keyturn_script(), "--help"]
    for _ in range(3):  # warm the page cache (and the bytecode cache) for both
        _wall(bare_cmd, env)
        _wall(help_cmd, env)
    bare: list[float] = []
    helped: list[float] = []
    for _ in range(runs):
        bare.append(_wall(bare_cmd, env))
        helped.append(_wall(help_cmd, env))
    return bare, helped


def help_ratio(runs: int = 21) -> Figure:
    """Median wall time of `keyturn --help` ÷ median of `python -c pass`, interleaved."""
    bare, helped = _paired(runs, bench_env())
    ratio = median(helped) / median(bare)
    nb_bare, nb_help = _paired(max(5, runs // 3), bench_env(bytecode=False))
    return Figure(
        "`keyturn --help` wall time ÷ `python -c pass`", round(ratio, 3), "≤ 2.0", ratio <= 2.0, "×",
        {"keyturn_help_ms": round(median(helped) * 1000, 1),
         "python_pass_ms": round(median(bare) * 1000, 1),
         "median_of_paired_ratios": round(median([h / b for h, b in zip(helped, bare)]), 3),
         "ratio_without_bytecode_cache": round(median(nb_help) / median(nb_bare), 3),
         "runs": runs, "script": keyturn_script(),
         "modules_beyond_bare_python": extra_imports()},
    )


def _imported(command: list[str]) -> dict[str, int]:
    """Module name → self import time (µs) from `-X importtime`."""
    done = subprocess.run([sys.executable, "-X", "importtime", *command], capture_output=True,
                          text=True, env=bench_env(), check=False)
    found: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            fields = line.split("|")
            found[fields[2].strip()] = int(fields[0].split(":")[1])
    return found


def extra_imports() -> dict[str, int]:
    """Modules `keyturn --help` imports that a bare interpreter does not, with self µs."""
    base = _imported(["-c", "pass"])
    extra = {k: v for k, v in _imported([keyturn_script(), "--help"]).items() if k not in base}
    return dict(sorted(extra.items(), key=lambda kv: -kv[1]))
