"""Same search, two ways to pick the final fit's finalists: the N best trials vs. one per architecture.

``--final-fit N --no-final-distinct`` retrains the N best completed trials;
``--final-distinct`` (the default since the Gowalla run of RESULTS.md,
"Gowalla-6000 seed 0 under the current code") retrains the best trial of each
of the N best architectures instead (a trial whose spec, training knobs
aside, equals a better finalist's is passed over). This script asks which
rule gives the better ``best/`` on the same search: it finishes a copy of
each folder with the rule ``--other`` names (``distinct``, the default, for
folders searched with the N best trials; ``top`` for folders searched with
one per architecture).

For each search folder given (one written by ``gnnnas search --final-fit N``,
e.g. by ``space_vs_lightgcn.py``), it copies the folder to
``<folder>-distinct`` (or ``-top``), drops the copy's final-fit records and
weights, and runs the exact command a user would to finish a finished search
with the other rule:

    gnnnas worker --storage sqlite:///<copy>/study.db --study NAME --out <copy> --trials <finished>
                  --final-fit N --final-distinct --final-epochs E --final-timeout S --device cpu --quiet

(``--trials`` = the trials the study already finished, so no new trial
starts: the worker goes straight to the final fit and the export). Then it
prints, per rule, each finalist (search and final validation / test
NDCG@20, best epoch of epochs run, what stopped it) and the winner ``best/``
holds, chosen on validation; test is reported, never selected on.

    python experiments/final_fit_rules.py --final-fit 3 --final-timeout 300 --final-epochs 100 \\
        experiments/out/space_vs_lightgcn/online-retail-default-s0 [...]

N, E and S should be those of the original search, so that only the rule
differs. Appends one JSON line per folder and rule to
experiments/out/final_fit_rules.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, machine  # noqa: E402
from search_runs import fmt, read_run  # noqa: E402

from gnnnas.models.spec import ArchSpec  # noqa: E402
from gnnnas.search.api import open_folder  # noqa: E402
from gnnnas.search.budget import counts  # noqa: E402
from gnnnas.search.final_fit import FINAL_ATTR, FINAL_WEIGHTS  # noqa: E402

RESULTS = OUT / "final_fit_rules.jsonl"


def fresh_copy(folder: Path, other: str) -> Path:
    """``<folder>-<other>``: the search as it finished, without any final fit."""
    copy = folder.with_name(f"{folder.name}-{other}")
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(folder, copy)
    shutil.rmtree(copy / "best", ignore_errors=True)
    for path in copy.glob(f"trials/*/{FINAL_WEIGHTS}"):
        path.unlink()
    study, _, _ = open_folder(copy, storage=f"sqlite:///{copy / 'study.db'}")
    study.set_user_attr(FINAL_ATTR, {})
    return copy


def finish(copy: Path, args: argparse.Namespace) -> float:
    study, _, _ = open_folder(copy, storage=f"sqlite:///{copy / 'study.db'}")
    cmd = [sys.executable, "-m", "gnnnas", "worker", "--storage", f"sqlite:///{copy / 'study.db'}",
           "--study", study.study_name, "--out", str(copy), "--trials", str(counts(study)[0]),
           "--final-fit", str(args.final_fit),
           "--final-distinct" if args.other == "distinct" else "--no-final-distinct", "--device", "cpu", "--quiet"]
    if args.final_epochs is not None:
        cmd += ["--final-epochs", str(args.final_epochs)]
    if args.final_timeout is not None:
        cmd += ["--final-timeout", f"{args.final_timeout:g}"]
    started = time.perf_counter()
    log = copy.with_name(copy.name + ".log")
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n\n")
        f.flush()
        code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise SystemExit(f"gnnnas worker failed (exit {code}); see {log}")
    return time.perf_counter() - started


def describe(folder: Path) -> tuple[dict, list[str]]:
    run = read_run(folder)
    study, _, _ = open_folder(folder, storage=f"sqlite:///{folder / 'study.db'}")
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    rows = []
    for n, r in sorted(run.final_fits.items(), key=lambda item: -(item[1]["search_val"] or 0.0)):
        spec = str(ArchSpec.from_dict(by_number[n].user_attrs["spec"]))
        rows.append(f"trial {n} [{fmt(r['search_val'])}]: {fmt(r['val'])} / {fmt(r['test'])}, "
                    f"{r['best_epoch']} of {r['epochs']}, {r['stopped']}; {spec}")
    winner = run.final_fit or {"trial": run.final.trial if run.final else None,
                               "val": run.final.val if run.final else None,
                               "test": run.final.test if run.final else None}
    return {"winner": winner["trial"], "val": winner["val"], "test": winner["test"],
            "final_fits": {str(n): r for n, r in run.final_fits.items()}}, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="search folders that ran --final-fit N")
    parser.add_argument("--final-fit", type=int, required=True, metavar="N")
    parser.add_argument("--final-timeout", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--final-epochs", type=int, default=None, metavar="E")
    parser.add_argument("--other", choices=("distinct", "top"), default="distinct",
                        help="the rule the copy is finished with (default distinct; the folders ran the other)")
    parser.add_argument("--report-only", action="store_true", help="read the existing -distinct (-top) copies")
    args = parser.parse_args()
    host, commit = machine(), git_commit()
    print(f"Machine: {host}; commit {commit}; --final-fit {args.final_fit} --final-epochs {args.final_epochs} "
          f"--final-timeout {args.final_timeout}\n")
    for folder in args.folders:
        copy = folder.with_name(f"{folder.name}-{args.other}")
        seconds = None
        if not args.report_only:
            copy = fresh_copy(folder, args.other)
            seconds = finish(copy, args)
        print(f"### {folder.name}\n")
        top_n, distinct = (folder, copy) if args.other == "distinct" else (copy, folder)
        for rule, path in (("top N", top_n), ("one per architecture", distinct)):
            summary, rows = describe(path)
            print(f"- {rule}: best/ = trial {summary['winner']}, val {fmt(summary['val'])} / test "
                  f"{fmt(summary['test'])} NDCG@20" + (f" ({seconds:.0f} s)" if seconds and path == copy else ""))
            for row in rows:
                print(f"  - {row}")
            with RESULTS.open("a") as f:
                f.write(json.dumps({"folder": str(folder), "rule": rule, **summary, "machine": host,
                                    "commit": commit}) + "\n")
        print(flush=True)


if __name__ == "__main__":
    main()
