"""Does the default space hold better models than the LightGCN space finds? Winners trained to convergence.

``space_vs_lightgcn.py`` compares the winners of two searches under one wall
clock, each candidate stopped by a per-candidate time limit. This script
separates the two questions that comparison mixes: how good the winners are
once trained to convergence, and whether the default space contains a model
better than the LightGCN space's best. For each dataset it takes the two
winners of the latest ``space_vs_lightgcn`` runs with ``--budget`` (from
experiments/out/space_vs_lightgcn.jsonl) and trains, each with early stopping
on validation NDCG@20 (``--epochs``, ``--eval-every``, ``--patience``):

* ``default winner`` and ``lightgcn winner``: the two exported specs as they are;
* ``lightgcn winner, N negatives``: the LightGCN space's winner with
  ``num_negatives`` N (``--negatives``), its L2 clipped into the default
  space's range. The LightGCN space fixes 1 negative (the paper's BPR); the
  default space searches 1-4. The script checks that this spec is a point of
  the default space (``SearchSpace.params_of``) and says so.

The best of these on validation is what the default space could have
returned; test NDCG@20 is reported, never selected on. Same data, split and
training seed as the searches (``DataOptions(seed=0)``, training seed 0).

    python experiments/space_headroom.py [--datasets online-retail,gowalla-6000] [--budget 900]

Prints a Markdown table per dataset and appends one JSON line per trained
model to experiments/out/space_headroom.jsonl.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, gowalla_subset, machine  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.errors import GnnnasError  # noqa: E402
from gnnnas.models.spec import ArchSpec  # noqa: E402
from gnnnas.pipeline import train_and_evaluate  # noqa: E402
from gnnnas.space import load_space  # noqa: E402
from gnnnas.training import TrainConfig  # noqa: E402

RUNS = OUT / "space_vs_lightgcn.jsonl"
RESULTS = OUT / "space_headroom.jsonl"


def winners(budget: float) -> dict[tuple[str, str], dict]:
    """(dataset, space) -> the latest run record of ``space_vs_lightgcn`` with this budget."""
    if not RUNS.is_file():
        raise SystemExit(f"{RUNS}: not found; run experiments/space_vs_lightgcn.py --budget {budget:g} first")
    found: dict[tuple[str, str], dict] = {}
    for line in RUNS.read_text().splitlines():
        r = json.loads(line)
        if r.get("kind") == "run" and float(r.get("budget", -1)) == budget and r.get("spec"):
            found[(r["dataset"], r["space"])] = r
    return found


def in_space(spec: ArchSpec, space: str) -> bool:
    try:
        load_space(space).params_of(spec)
    except GnnnasError:
        return False
    return True


def with_negatives(spec: dict, negatives: int, l2_max: float) -> dict:
    d = copy.deepcopy(spec)
    d["training"]["num_negatives"] = negatives
    d["training"]["l2"] = min(d["training"]["l2"], l2_max)
    return d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="online-retail,gowalla-6000")
    parser.add_argument("--budget", type=float, default=900.0, help="the --budget of the space_vs_lightgcn runs")
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--eval-every", type=int, default=1)
    parser.add_argument("--patience", type=int, default=3, help="evaluations without improvement")
    args = parser.parse_args()
    runs = winners(args.budget)
    default_space = load_space("default")
    l2_max = float(default_space.dimension("l2").distribution.high)
    host, commit = machine(), git_commit()
    print(f"Machine: {host}; commit {commit}; winners of space_vs_lightgcn --budget {args.budget:g}\n")
    for data in args.datasets.split(","):
        if (data, "default") not in runs or (data, "lightgcn") not in runs:
            raise SystemExit(f"{RUNS}: no --budget {args.budget:g} runs of both spaces on {data}")
        source = str(gowalla_subset(int(data.split("-")[1]))) if data.startswith("gowalla-") else data
        ds = load_dataset(source, DataOptions(seed=0))
        models = [("default winner", runs[(data, "default")]["spec"], runs[(data, "default")]),
                  ("lightgcn winner", runs[(data, "lightgcn")]["spec"], runs[(data, "lightgcn")]),
                  (f"lightgcn winner, {args.negatives} negatives",
                   with_negatives(runs[(data, "lightgcn")]["spec"], args.negatives, l2_max), None)]
        print(f"### {data}\n")
        print("| model | spec | in default space | in lightgcn space | search: val / test | converged: best epoch | "
              "s/epoch | val NDCG@20 | test NDCG@20 |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, spec_dict, run in models:
            spec = ArchSpec.from_dict(spec_dict)
            config = TrainConfig(epochs=args.epochs, eval_every=args.eval_every, patience=args.patience, seed=0,
                                 progress=False)
            started = time.perf_counter()
            report = train_and_evaluate(ds, spec, config)
            row = {"dataset": data, "model": label, "spec": spec_dict, "spec_text": str(spec),
                   "in_default": in_space(spec, "default"), "in_lightgcn": in_space(spec, "lightgcn"),
                   "best_epoch": report.result.best_epoch, "epochs_run": report.result.epochs_run,
                   "epoch_seconds": report.result.median_epoch_seconds, "seconds": time.perf_counter() - started,
                   "val": report.val, "test": report.test,
                   "search": None if run is None else {"val": run["val"]["ndcg@20"], "test": run["test"]["ndcg@20"]},
                   "budget": args.budget, "machine": host, "commit": commit}
            with RESULTS.open("a") as f:
                f.write(json.dumps(row) + "\n")
            searched = "-" if run is None else f"{run['val']['ndcg@20']:.4f} / {run['test']['ndcg@20']:.4f}"
            yes = {True: "yes", False: "no"}
            print(f"| {label} | {str(spec).replace(' | ', '; ')} | {yes[row['in_default']]} | "
                  f"{yes[row['in_lightgcn']]} | "
                  f"{searched} | {row['best_epoch']} of {row['epochs_run']} | {row['epoch_seconds']:.2f} | "
                  f"{report.val['ndcg@20']:.4f} | {report.test['ndcg@20']:.4f} |", flush=True)
        print()


if __name__ == "__main__":
    main()
