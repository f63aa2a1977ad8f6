"""How a data source is read, filtered and split (:class:`DataOptions`) and the
matching command-line flags."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, fields

from gnnnas.errors import GnnnasError

#: Split kinds a user may ask for; ``auto`` resolves to ``provided`` or ``ratio``.
#: The splitters themselves live in :mod:`gnnnas.data.split` (kept in sync by a test).
SPLIT_KINDS: tuple[str, ...] = ("auto", "provided", "ratio", "temporal", "loo")

#: Name of the dataset used when ``--data`` is not given.
DEFAULT_DATA = "online-retail"


@dataclass(frozen=True)
class DataOptions:
    """Options for :func:`gnnnas.data.load_dataset`.

    Column options (``user_col`` ... ``time_col``, ``sep``) apply to tabular and
    RecBole sources; ``None`` means "use the format's defaults / auto-detect".
    ``split="auto"`` keeps a split the source ships (LightGCN ``test.txt``,
    RecBole ``.train/.test.inter``) and otherwise splits by ``ratios``.
    ``seed`` drives every random choice of the split (and, on the command line,
    training too). ``cold_items`` > 0 holds out that fraction of the items
    entirely for the cold-start protocol (see :mod:`gnnnas.data.cold`);
    ``text_model`` names the encoder of item text features (None: the
    packaged all-MiniLM-L6-v2).
    """

    format: str | None = None
    user_col: str | None = None
    item_col: str | None = None
    rating_col: str | None = None
    time_col: str | None = None
    sep: str | None = None
    items_path: str | None = None
    item_id_col: str | None = None
    text_cols: tuple[str, ...] = ()
    rating_threshold: float | None = None
    kcore: int = 0
    split: str = "auto"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    val_ratio: float = 0.1
    cold_items: float = 0.0
    text_model: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        # Accept lists from callers / YAML; store tuples so the options stay hashable.
        if isinstance(self.text_cols, str):
            object.__setattr__(self, "text_cols", _split_list(self.text_cols))
        object.__setattr__(self, "text_cols", tuple(str(c) for c in self.text_cols))
        object.__setattr__(self, "ratios", _check_ratios(self.ratios))
        self._validate()

    def _validate(self) -> None:
        for name in ("format", "user_col", "item_col", "rating_col", "time_col",
                     "items_path", "item_id_col", "text_model"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise GnnnasError(f"data option {name}={value!r}: expected a non-empty string or nothing")
        if self.sep is not None and (not isinstance(self.sep, str) or self.sep == ""):
            raise GnnnasError(f"data option sep={self.sep!r}: expected a non-empty separator such as ',' or '\\t'")
        if self.rating_threshold is not None:
            if isinstance(self.rating_threshold, bool) or not isinstance(self.rating_threshold, (int, float)) \
                    or not math.isfinite(self.rating_threshold):
                raise GnnnasError(f"data option rating_threshold={self.rating_threshold!r}: expected a finite number")
        if isinstance(self.kcore, bool) or not isinstance(self.kcore, int) or self.kcore < 0:
            raise GnnnasError(f"data option kcore={self.kcore!r}: expected an integer >= 0 (0 turns k-core filtering off)")
        if self.split not in SPLIT_KINDS:
            raise GnnnasError(f"data option split={self.split!r}: expected one of {', '.join(SPLIT_KINDS)}")
        if isinstance(self.val_ratio, bool) or not isinstance(self.val_ratio, (int, float)) \
                or not 0.0 <= self.val_ratio < 1.0:
            raise GnnnasError(f"data option val_ratio={self.val_ratio!r}: expected a number in [0, 1)")
        if isinstance(self.cold_items, bool) or not isinstance(self.cold_items, (int, float)) \
                or not 0.0 <= self.cold_items < 1.0:
            raise GnnnasError(f"data option cold_items={self.cold_items!r}: expected a fraction of items in [0, 1)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise GnnnasError(f"data option seed={self.seed!r}: expected an integer >= 0")

    def to_dict(self) -> dict:
        """JSON-friendly dict (tuples become lists)."""
        out = asdict(self)
        out["text_cols"] = list(self.text_cols)
        out["ratios"] = list(self.ratios)
        return out


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _check_ratios(ratios) -> tuple[float, float, float]:
    try:
        shown = ratios if isinstance(ratios, str) else ",".join(str(r) for r in ratios)
        values = tuple(float(r) for r in (_split_list(ratios) if isinstance(ratios, str) else ratios))
    except (TypeError, ValueError):
        values = ()
        shown = str(ratios)
    expected = "expected three numbers train,val,test such as 0.8,0.1,0.1"
    if len(values) != 3:
        raise GnnnasError(f"data option ratios={shown}: {expected}")
    if any(not (0.0 <= v < 1.0) for v in values):
        raise GnnnasError(f"data option ratios={shown}: each must be in [0, 1)")
    if values[0] <= 0.0:
        raise GnnnasError(f"data option ratios={shown}: the train ratio must be > 0")
    if abs(sum(values) - 1.0) > 1e-6:
        raise GnnnasError(f"data option ratios={shown}: must sum to 1 (they sum to {sum(values):g})")
    return values  # type: ignore[return-value]


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--data`` and the data-option flags to ``parser``.

    ``--seed`` (default 0) seeds the data split and is meant to seed training as
    well; it is only added when the parser does not define ``--seed`` already,
    so a trainer may declare its own. :func:`options_from_args` reads ``args.seed``.
    """
    group = parser.add_argument_group("data")
    group.add_argument("--data", default=DEFAULT_DATA, metavar="NAME|PATH",
                       help=f"bundled dataset name or path to a file/folder (default: {DEFAULT_DATA})")
    group.add_argument("--format", default=None,
                       help="source format (lightgcn, recbole, movielens, tabular, bundled); default: auto-detect")
    group.add_argument("--user-col", default=None, help="user id column (tabular/recbole)")
    group.add_argument("--item-col", default=None, help="item id column (tabular/recbole)")
    group.add_argument("--rating-col", default=None, help="rating column (tabular/recbole)")
    group.add_argument("--time-col", default=None, help="timestamp column: unix seconds or dates (tabular/recbole)")
    group.add_argument("--sep", default=None, help="field separator of a tabular file (default: from the extension)")
    group.add_argument("--items", dest="items_path", default=None, metavar="PATH",
                       help="items table giving item text (tabular)")
    group.add_argument("--item-id-col", default=None, help="item id column of the --items table")
    group.add_argument("--text-cols", default="", metavar="COL,COL",
                       help="comma-separated item text columns (tabular --items, recbole .item)")
    group.add_argument("--rating-threshold", type=float, default=None,
                       help="keep interactions with rating >= this (default: keep all)")
    group.add_argument("--kcore", type=int, default=0,
                       help="iterative k-core: keep users and items with >= K interactions (0: off)")
    group.add_argument("--split", default="auto", choices=SPLIT_KINDS,
                       help="auto keeps a split the source ships, else ratio (default: auto)")
    group.add_argument("--ratios", default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST",
                       help="per-user split fractions for ratio/temporal splits (default: 0.8,0.1,0.1)")
    group.add_argument("--val-ratio", type=float, default=0.1,
                       help="fraction of each user's training items held out for validation "
                            "when the source provides the test split (default: 0.1)")
    group.add_argument("--cold-items", type=float, default=0.0, metavar="FRACTION",
                       help="cold-start protocol: hold out this fraction of items entirely (no training "
                            "interactions); half are validation-cold, half test-cold items (default: 0, off)")
    group.add_argument("--text-model", default=None, metavar="NAME|DIR",
                       help="sentence-transformers model for item text features: the packaged all-MiniLM-L6-v2 "
                            "(default) or a local model folder; nothing is downloaded")
    if "--seed" not in parser._option_string_actions:  # argparse has no public lookup
        group.add_argument("--seed", type=int, default=0,
                           help="random seed for the data split and training (default: 0)")


def options_from_args(args: argparse.Namespace) -> DataOptions:
    """Build :class:`DataOptions` from parsed :func:`add_data_arguments` flags."""
    values = {f.name: getattr(args, f.name) for f in fields(DataOptions) if hasattr(args, f.name)}
    values["text_cols"] = _split_list(getattr(args, "text_cols", "") or "")
    values["seed"] = getattr(args, "seed", 0) or 0
    return DataOptions(**values)
