"""Ctrl-C a real ``gnnnas search`` at random moments and time how long each takes to exit.

Each round starts the search the Ctrl-C test uses (tests/test_search_workers.py:
a tiny clustered dataset, a 1-layer LightGCN space whose trials take about two
seconds, evaluation every epoch so trials write to SQLite often), waits for
trial 0 to finish, sleeps a random 0-1 s, sends SIGINT and measures the time
to exit. A round is bad when the process does not exit with 130 and its
"interrupted; finished trials are recorded in ..." line, which is what happens
when cleanup blocks and the 30 s watchdog of ``gnnnas.cli.interrupt`` ends it;
a bad round's whole stderr (with every thread's stack) is printed.

    python experiments/ctrlc_stress.py --rounds 70 --seed 1

Prints one line per round and a summary; about 7.5 s per round on 2 cores.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import git_commit, machine  # noqa: E402
from conftest import clustered_interactions  # noqa: E402

SPACE = """
name: slow
description: a space whose trials take a second or so
search: {max_epochs: 300, patience: 300, eval_every: 1}
architecture: {embedding_dim: 8}
layers: {num_layers: 1, aggregator: lightgcn}
training:
  lr: {low: 1.0e-3, high: 1.0e-2, log: true}
  batch_size: 256
"""


def one_round(folder: Path, csv: Path, space: Path, delay: float) -> tuple[float, bool, str]:
    """(seconds from SIGINT to exit, exited as expected, everything it wrote on stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "gnnnas", "search", "--space", str(space), "--data", str(csv),
                             "--out", str(folder), "--trials", "4", "--pruner", "none", "--controller",
                             "optuna-random"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "[1/4] trial 0" in line:
            break
    time.sleep(delay)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    seconds = time.monotonic() - started
    return seconds, proc.returncode == 130 and "interrupted; finished trials" in err, "".join(seen) + err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=70)
    parser.add_argument("--seed", type=int, default=1, help="seed of the random delays")
    args = parser.parse_args()
    print(f"machine: {machine()}; commit {git_commit()}")
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="gnnnas-ctrlc-"))
    csv, space = tmp / "tiny.csv", tmp / "slow.yaml"
    clustered_interactions().to_csv(csv, index=False)
    space.write_text(textwrap.dedent(SPACE))
    times, bad = [], 0
    for i in range(args.rounds):
        seconds, ok, err = one_round(tmp / f"run{i}", csv, space, rng.uniform(0.0, 1.0))
        times.append(seconds)
        bad += not ok
        print(f"round {i}: {seconds:.2f} s {'ok' if ok else 'BAD'}", flush=True)
        if not ok:
            print(err, flush=True)
    print(f"{args.rounds} rounds, {bad} bad; seconds from Ctrl-C to exit: max {max(times):.2f}, "
          f"median {sorted(times)[len(times) // 2]:.2f}")


if __name__ == "__main__":
    main()
