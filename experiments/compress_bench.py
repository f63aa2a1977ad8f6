"""Compression of a LightGCN winner: size, top-20 latency and test NDCG@20 change per method.

Goals (issue 7): ``int8`` at most 30% of the original's exported size with
test NDCG@20 within 1% relative; a distilled student at least 4x faster at
full-ranking inference with test NDCG@20 within 3% relative. "Within" means
no worse than that: an improvement passes.

For each dataset, the teacher is trained the way a user would,

    gnnnas train --arch lightgcn --data DATA --epochs E --device cpu --seed 0 --quiet --json --out DIR/teacher

(early stopping on validation NDCG@20), once: an existing ``DIR/teacher``
is reused. Then, for each method, the exact command

    gnnnas compress DIR/teacher/model --method M --out DIR/M --json --repeats R --device cpu [method knobs]

whose JSON line (the artifact's and the teacher's size of ``weights.pt``,
median top-20 latency over a fixed batch of 256 users after one warm-up,
the runs of teacher and compressed model interleaved,
and metrics on the bundle's test split) fills the table. Every latency ratio
compares a method with the teacher timed in the same command. gowalla-6000 is
the first 6,000 users of the LightGCN Gowalla split with items renumbered
(``common.gowalla_subset``).

    python experiments/compress_bench.py [--datasets online-retail,gowalla-6000] [--teacher-epochs 60]
                                         [--methods int8,fp16,prune,distill,distill:16,distill+int8]

Prints a Markdown table and appends one JSON line per command to
experiments/out/compress_bench.jsonl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, data_source, git_commit, machine  # noqa: E402

DATASETS = ["online-retail", "gowalla-6000"]
METHODS = ["int8", "fp16", "prune", "distill"]
GOALS = {  # method -> (max size ratio, max latency ratio, max relative NDCG@20 drop)
    "int8": (0.30, None, 0.01),
    "distill": (None, 0.25, 0.03),
}


def gnnnas(*argv: str) -> tuple[dict, float]:
    """Run ``gnnnas ARGV`` (this interpreter, this checkout); its JSON last line and the wall seconds."""
    cmd = [sys.executable, "-m", "gnnnas", *argv]
    print("$ gnnnas " + " ".join(argv), file=sys.stderr, flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"gnnnas {' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), seconds


def verdict(method: str, row: dict) -> str:
    if method not in GOALS:
        return ""
    size_max, latency_max, drop_max = GOALS[method]
    ok = row["ndcg_change"] >= -drop_max
    if size_max is not None:
        ok &= row["size_ratio"] <= size_max
    if latency_max is not None:
        ok &= row["latency_ratio"] <= latency_max
    return "met" if ok else "not met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS), help="bundled names, paths or gowalla-N")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated; distill:D is distill with --dim D (a D-wide student), "
                             "distill+int8 (or distill:D+int8) adds --quantize int8")
    parser.add_argument("--teacher-epochs", type=int, default=60, help="maximum teacher epochs (early stopping)")
    parser.add_argument("--repeats", type=int, default=21, help="timed runs per latency (median)")
    parser.add_argument("--ratio", default="0.5", help="prune --ratio")
    parser.add_argument("--distill-epochs", default="10", help="distill --epochs")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    commit, mach = git_commit(), machine()
    knobs = {"prune": ["--ratio", args.ratio], "distill": ["--epochs", args.distill_epochs]}

    rows = []
    for dataset in args.datasets.split(","):
        root = OUT / "compress_bench" / Path(dataset).name
        teacher = root / "teacher"
        if not (teacher / "model" / "metadata.json").is_file():
            gnnnas("train", "--arch", "lightgcn", "--data", data_source(dataset), "--epochs",
                   str(args.teacher_epochs), "--device", "cpu", "--seed", "0", "--quiet", "--json", "--out",
                   str(teacher))
        for variant in args.methods.split(","):
            base, _, quantize = variant.partition("+")
            method, _, dim = base.partition(":")
            extra = knobs.get(method, []) + (["--dim", dim] if dim else []) + \
                (["--quantize", quantize] if quantize else [])
            result, seconds = gnnnas("compress", str(teacher / "model"), "--method", method, "--out",
                                     str(root / variant.replace(":", "-").replace("+", "-")), "--json", "--repeats",
                                     str(args.repeats), "--device", "cpu", *extra)
            before, after = result["metrics_before"]["ndcg@20"], result["metrics_after"]["ndcg@20"]
            row = {"dataset": dataset, "method": method, "knobs": extra,
                   "size_ratio": result["size_bytes_after"] / result["size_bytes_before"],
                   "latency_ratio": result["latency_ms_after"] / result["latency_ms_before"],
                   "ndcg_before": before, "ndcg_after": after, "ndcg_change": after / before - 1.0,
                   "seconds": seconds, "result": result}
            row["goal"] = verdict(method, row)
            rows.append(row)
            with open(OUT / "compress_bench.jsonl", "a") as fh:
                fh.write(json.dumps({**row, "commit": commit, "machine": mach}) + "\n")

    print(f"Machine: {mach}; commit {commit}")
    print()
    print("| dataset | method | size (bytes) before -> after | size ratio | top-20 latency (ms) before -> after "
          "| latency ratio | speed-up | test NDCG@20 before -> after | NDCG@20 change | goal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        res = r["result"]
        method = r["method"] + (f" ({' '.join(r['knobs'])})" if r["knobs"] else "")
        print(f"| {r['dataset']} | {method} | {res['size_bytes_before']:,} -> {res['size_bytes_after']:,} "
              f"| {r['size_ratio']:.3f} | {res['latency_ms_before']:.1f} -> {res['latency_ms_after']:.1f} "
              f"| {r['latency_ratio']:.3f} | {1 / r['latency_ratio']:.1f}x | {r['ndcg_before']:.4f} -> "
              f"{r['ndcg_after']:.4f} | {100 * r['ndcg_change']:+.2f}% | {r['goal']} |")
    print()
    for method, (size_max, latency_max, drop_max) in GOALS.items():
        verdicts = [r["goal"] for r in rows if r["method"] == method]
        if verdicts:
            parts = ([f"size ratio <= {size_max}"] if size_max else []) + \
                    ([f"latency ratio <= {latency_max}"] if latency_max else []) + \
                    [f"NDCG@20 drop <= {100 * drop_max:g}%"]
            per_dataset = {d: any(r["goal"] == "met" for r in rows if r["method"] == method and r["dataset"] == d)
                           for d in dict.fromkeys(r["dataset"] for r in rows if r["method"] == method)}
            print(f"Goal {method} ({', '.join(parts)}) on every dataset, by at least one of its rows: "
                  f"{'met' if all(per_dataset.values()) else 'not met'} "
                  "(" + ", ".join(f"{d}: {'met' if ok else 'not met'}" for d, ok in per_dataset.items()) + ")")


if __name__ == "__main__":
    main()
