"""LightGCN / NGCF text format: a folder with ``train.txt`` and ``test.txt``.

Each line is ``user item item ...`` (0-based integers, whitespace separated).
The test file is kept as the provided split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gnnnas.data.formats.base import Format
from gnnnas.data.options import DataOptions
from gnnnas.data.raw import RawData, require_file
from gnnnas.errors import GnnnasError

_EXPECTED = "expected lines 'user item item ...' of non-negative integers"


def detect(path: Path) -> bool:
    return path.is_dir() and (path / "train.txt").is_file() and (path / "test.txt").is_file()


def files(path: Path, options: DataOptions) -> list[Path]:
    return [path / "train.txt", path / "test.txt"]


def _parse(path: Path) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """(users, items) pairs of one file, plus user -> line number of its first line."""
    require_file(path)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    tokens: list[str] = []
    lengths = np.zeros(len(lines), dtype=np.int64)
    # One Python step per line (tens of thousands); the items are converted in bulk.
    for n, line in enumerate(lines):
        parts = line.split()
        lengths[n] = len(parts)
        tokens.extend(parts)
    if not tokens:
        raise GnnnasError(f"{path}: file has no user lines; {_EXPECTED}")
    try:
        values = np.array(tokens).astype(np.int64)
    except (ValueError, OverflowError):
        values = None
    if values is None or (values < 0).any():
        _raise_first_bad(path, lines)
    nonblank = lengths > 0
    line_no = np.flatnonzero(nonblank) + 1
    lengths = lengths[nonblank]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    line_users = values[starts]
    is_item = np.ones(values.size, dtype=bool)
    is_item[starts] = False
    users = np.repeat(line_users, lengths - 1)
    items = values[is_item]
    first_line: dict[int, int] = {}
    for user, no in zip(line_users.tolist(), line_no.tolist()):
        first_line.setdefault(user, no)
    return users, items, first_line


def _raise_first_bad(path: Path, lines: list[str]) -> None:
    for n, line in enumerate(lines, start=1):
        for token in line.split():
            if not (token.isascii() and token.isdigit()):
                raise GnnnasError(f"{path} line {n}: {token!r} is not a non-negative integer id; {_EXPECTED}")
    raise GnnnasError(f"{path}: could not parse the ids; {_EXPECTED}")  # pragma: no cover


def load(path: Path, options: DataOptions) -> RawData:
    train_path, test_path = files(path, options)
    tr_users, tr_items, _ = _parse(train_path)
    te_users, te_items, te_lines = _parse(test_path)
    if tr_items.size == 0:
        raise GnnnasError(f"{train_path}: no user has any item; {_EXPECTED}")
    with_train = np.unique(tr_users)
    cold = np.setdiff1d(np.unique(te_users), with_train)
    if cold.size:
        user = int(cold[np.argmin([te_lines[int(u)] for u in cold])])
        raise GnnnasError(f"{test_path} line {te_lines[user]}: user {user} has test items "
                          f"but no items in {train_path.name}")
    return RawData(
        interactions=pd.DataFrame({"user": tr_users, "item": tr_items}),
        provided_test=pd.DataFrame({"user": te_users, "item": te_items}),
        source_files=[train_path, test_path],
    )


FORMAT = Format(
    name="lightgcn",
    description="folder with train.txt and test.txt, lines 'user item item ...' (LightGCN/NGCF); keeps the test split",
    detect=detect,
    load=load,
    files=files,
)
