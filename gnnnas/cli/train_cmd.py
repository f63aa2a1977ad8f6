"""``gnnnas train``: train and evaluate one architecture."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from gnnnas.cli.argtypes import positive_int
from gnnnas.data import Dataset, add_data_arguments, load_dataset, options_from_args
from gnnnas.device import resolve_device
from gnnnas.errors import GnnnasError
from gnnnas.models.registry import architecture_names, override, resolve_architecture
from gnnnas.models.spec import FEATURES, GRAPHS, SpecError
from gnnnas.evaluation import COLD_PREFIX
from gnnnas.features.text import check_dataset_supports
from gnnnas.pipeline import RunReport, train_and_evaluate
from gnnnas.training import TrainConfig, TrainingDiverged

#: The model bundle's folder inside ``--out`` (load it with gnnnas.load / gnnnas recommend).
MODEL_DIR = "model"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train and evaluate one architecture",
                       description="Train one architecture with early stopping on the validation split "
                                   "and report validation and test metrics.")
    p.add_argument("--arch", default="lightgcn", metavar="NAME|FILE",
                   help=f"a preset or baseline ({', '.join(architecture_names())}) or an architecture JSON file "
                        "(default: lightgcn)")
    add_data_arguments(p)
    d = TrainConfig()
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=positive_int, default=d.epochs, help=f"maximum epochs (default {d.epochs})")
    g.add_argument("--batch-size", type=positive_int, default=None, help="training pairs per batch (default: the architecture's)")
    g.add_argument("--layers", type=int, default=None,
                   help="number of layers, repeating the architecture's last layer (default: the architecture's)")
    g.add_argument("--dim", type=positive_int, default=None, help="embedding and hidden size (default: the architecture's)")
    g.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: the architecture's)")
    g.add_argument("--l2", type=float, default=None,
                   help="L2 weight on the batch's layer-0 embeddings (default: the architecture's)")
    g.add_argument("--negatives", type=positive_int, default=None, help="negatives per positive (default: the architecture's)")
    g.add_argument("--loss", default=None, help="ranking loss: bpr or softmax (default: the architecture's)")
    g.add_argument("--shared-negatives", type=int, default=None, metavar="N",
                   help="negatives drawn once per batch and shared by its users (default: the architecture's)")
    g.add_argument("--eval-every", type=positive_int, default=d.eval_every, help="epochs between validations")
    g.add_argument("--patience", type=positive_int, default=d.patience,
                   help="validations without improvement before stopping")
    g.add_argument("--metric", default=d.metric, help="validation metric for early stopping (default ndcg@20)")
    g.add_argument("--ks", default="10,20", help="cut-offs K of the reported metrics")
    g.add_argument("--edge-dropout", type=float, default=None, help="fraction of edges dropped per batch")
    g.add_argument("--features", default=None, choices=FEATURES,
                   help="item input features: id embeddings, projected item-text embeddings, or both "
                        "(default: the architecture's)")
    g.add_argument("--graph", default=None, choices=GRAPHS,
                   help="user-item graph, or plus item-item edges by text kNN or co-occurrence "
                        "(default: the architecture's)")
    g.add_argument("--item-k", type=positive_int, default=None,
                   help="item-item neighbours per item for --graph text-knn / co-occurrence")
    g.add_argument("--refit", action="store_true",
                   help="after selecting the epoch on validation, retrain on train+validation and report test")
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    o = p.add_argument_group("output")
    o.add_argument("--out", default=None, metavar="DIR", help="write metrics.json, history.csv and the model bundle model/ here")
    o.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)


def _config(args: argparse.Namespace) -> TrainConfig:
    try:
        ks = tuple(int(k) for k in args.ks.split(","))
    except ValueError:
        raise GnnnasError(f"--ks {args.ks!r}: expected comma-separated integers such as 10,20") from None
    try:
        return TrainConfig(epochs=args.epochs, eval_every=args.eval_every, patience=args.patience,
                           metric=args.metric, ks=ks, seed=args.seed,
                           progress=False if (args.quiet or args.json) else None)
    except ValueError as err:
        raise GnnnasError(f"training option: {err}") from None


def _architecture(args: argparse.Namespace):
    arch = resolve_architecture(args.arch)
    if args.layers is not None and args.layers < 0:
        raise GnnnasError(f"--layers {args.layers}: expected an integer >= 0")
    overrides = dict(layers=args.layers, dim=args.dim, lr=args.lr, l2=args.l2, batch_size=args.batch_size,
                     negatives=args.negatives, edge_dropout=args.edge_dropout, features=args.features,
                     graph=args.graph, item_k=args.item_k, loss=args.loss, shared_negatives=args.shared_negatives)
    if isinstance(arch, str):
        given = [k for k, v in overrides.items() if v is not None]
        if given:
            raise GnnnasError(f"--arch {arch}: a baseline has no {given[0].replace('_', '-')} to set")
        return arch
    try:
        return override(arch, **overrides)
    except SpecError as err:
        raise GnnnasError(f"--arch {args.arch}: {err}") from None


def _train(args: argparse.Namespace) -> int:
    arch = _architecture(args)
    config = _config(args)
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise GnnnasError(f"--out {out}: exists and is not a folder")
    if out is not None:
        from gnnnas.export.bundle import check_target
        check_target(out / MODEL_DIR)  # refuse before training, not after
    dataset = load_dataset(args.data, options_from_args(args))
    check_dataset_supports(arch, dataset, f"--arch {args.arch}")
    if config.metric.startswith(COLD_PREFIX) and not dataset.has_cold:
        raise GnnnasError(f"--metric {config.metric}: cold metrics need --cold-items FRACTION")
    device = resolve_device(args.device)
    try:
        report = train_and_evaluate(dataset, arch, config, device, refit=args.refit)
    except TrainingDiverged as err:
        raise GnnnasError(f"training diverged ({err}); try a lower --lr") from None
    summary = dict(report.to_dict(), arch_name=args.arch, dataset=dataset.name, device=str(device),
                   config=config.to_dict())
    if out is not None:
        _write_outputs(out, report, summary, dataset)
    _print_report(summary, report)
    if out is not None:
        print(f"wrote {out}: metrics.json, history.csv and the model bundle {out / MODEL_DIR} "
              f"(gnnnas recommend {out / MODEL_DIR} --user USER)")
    if args.json:
        print(json.dumps(summary))
    return 0


def _write_outputs(out: Path, report: RunReport, summary: dict, dataset: Dataset) -> None:
    """metrics.json, history.csv and the model bundle ``model/``.

    Everything is written into a temporary sibling folder first, so a failure
    leaves nothing half-written; the bundle replaces an earlier run's bundle
    only once complete (:func:`gnnnas.export.save_bundle`).
    """
    from gnnnas.export.bundle import install_folder, save_bundle
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        import pandas as pd
        pd.DataFrame(report.result.history).to_csv(tmp / "history.csv", index=False)
        extra = {"command": "train", "arch_name": summary["arch_name"], "best_epoch": summary["best_epoch"],
                 "epochs_run": summary["epochs_run"], "stopped": summary["stopped"], "refit": report.refit,
                 "device": summary["device"], "config": summary["config"]}
        save_bundle(tmp / MODEL_DIR, report.arch, report.model, report.dataset or dataset,
                    report.metrics(), extra)
        out.mkdir(exist_ok=True)
        install_folder(tmp / MODEL_DIR, out / MODEL_DIR)
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _print_report(summary: dict, report: RunReport) -> None:
    val, test = summary["val"], summary["test"]
    names = list(test)
    if not isinstance(report.arch, str):
        print(f"architecture: {report.arch}")
    print(f"{summary['arch_name']} on {summary['dataset']} ({summary['device']}): {summary['params']:,} parameters, "
          f"best epoch {summary['best_epoch']} of {summary['epochs_run']} ({summary['stopped']}), "
          f"{summary['epoch_seconds']:.2f} s/epoch, {summary['seconds']:.1f} s in all", file=sys.stdout)
    print(f"{'metric':<14}{'validation':>12}{'test':>12}")
    for name in names:
        v = val.get(name)
        print(f"{name:<14}{(f'{v:.4f}' if v is not None else '-'):>12}{test[name]:>12.4f}")
    if "test_cold" in summary:
        val_cold, test_cold = summary["val_cold"], summary["test_cold"]
        print(f"cold-start items ({len(report.dataset.cold_items) if report.dataset else '?'} held out):")
        for name in test_cold:
            v = val_cold.get(name)
            print(f"{name:<14}{(f'{v:.4f}' if v is not None else '-'):>12}{test_cold[name]:>12.4f}")
