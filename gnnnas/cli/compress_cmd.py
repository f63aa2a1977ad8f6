"""``gnnnas compress``: a smaller or faster copy of a model bundle, with its cost and metric change."""

from __future__ import annotations

import argparse
import json

from gnnnas.cli.argtypes import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    from gnnnas.compress import METHODS, CompressOptions
    d = CompressOptions()
    methods = "; ".join(f"{m.name}: {m.description}" for m in METHODS.values())
    p = sub.add_parser("compress", help="compress a model bundle (int8, fp16, prune, distill)",
                       description="Write a compressed copy of a model bundle (loadable with gnnnas.load and "
                                   "gnnnas recommend like any bundle) and print its size, top-20 latency and test "
                                   f"metrics against the original's. Methods: {methods}.")
    p.add_argument("path", metavar="PATH", help="model bundle folder (or a gnnnas train --out folder)")
    p.add_argument("--method", required=True, metavar="METHOD", help=f"one of {', '.join(METHODS)}")
    p.add_argument("--out", default=None, metavar="DIR", help="where to write the compressed bundle "
                                                              "(default: PATH-METHOD next to PATH)")
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda or cuda:N; latency is timed there")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed runs per latency, median reported (default 5)")
    p.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    g = p.add_argument_group("method options")
    g.add_argument("--ratio", type=float, default=d.ratio,
                   help=f"prune: fraction of each embedding row's values dropped (default {d.ratio})")
    g.add_argument("--dim", type=int, default=None, help="distill: the student's width (default: half the teacher's)")
    g.add_argument("--epochs", type=int, default=d.epochs,
                   help=f"distill: distillation epochs after the SVD start (default {d.epochs}; 0: SVD only)")
    g.add_argument("--lr", type=float, default=d.lr, help=f"distill: Adam learning rate (default {d.lr:g})")
    g.add_argument("--temperature", type=float, default=d.temperature,
                   help=f"distill: softmax temperature, in units of the teacher's score spread (default {d.temperature:g})")
    g.add_argument("--seed", type=int, default=d.seed, help="distill: seed of the user order (default 0)")
    g.add_argument("--quantize", choices=("none", "int8"), default=d.quantize,
                   help="distill: store the student as per-row int8, as --method int8 stores a model (default none)")
    p.set_defaults(func=_compress)


def _compress(args: argparse.Namespace) -> int:
    from gnnnas.compress import CompressOptions, compress, get_method
    from gnnnas.device import resolve_device
    get_method(args.method)  # an unknown method fails before anything is loaded
    options = CompressOptions(ratio=args.ratio, dim=args.dim, epochs=args.epochs, lr=args.lr,
                              temperature=args.temperature, seed=args.seed, quantize=args.quantize)
    result = compress(args.path, args.method, args.out, options, resolve_device(args.device), repeats=args.repeats)
    print(f"{args.method}: {result.source} -> {result.out}")
    print(_table(result))
    if args.json:
        print(json.dumps(result.to_dict()))
    return 0


def _table(result) -> str:
    rows = [["", "before", "after", "change"],
            ["weights size", _bytes(result.size_bytes_before), _bytes(result.size_bytes_after),
             f"x{result.size_ratio:.3f}"],
            ["top-20 latency", f"{result.latency_ms_before:.2f} ms", f"{result.latency_ms_after:.2f} ms",
             f"x{result.latency_ratio:.3f}"]]
    for name in result.metrics_before:
        if name.startswith(("recall@", "ndcg@")):
            rows.append([f"test {name}", f"{result.metrics_before[name]:.4f}", f"{result.metrics_after[name]:.4f}",
                         f"{100 * result.relative_change(name):+.2f}%"])
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return "\n".join("  ".join([r[0].ljust(widths[0])] + [r[c].rjust(widths[c]) for c in (1, 2, 3)]).rstrip()
                     for r in rows)


def _bytes(n: int) -> str:
    for unit, size in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"
