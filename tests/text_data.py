"""A small clustered dataset whose item text says which cluster an item belongs to (shared by the text tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from conftest import clustered_interactions

#: One theme per cluster of :func:`conftest.clustered_interactions` (4 clusters of 15 items).
THEMES = (
    ("red ceramic coffee mug", "porcelain tea cup", "stoneware espresso mug", "glazed teapot"),
    ("wooden garden chair", "oak patio bench", "teak outdoor table", "folding deck chair"),
    ("christmas tree bauble", "festive star ornament", "snowflake decoration", "holiday tinsel garland"),
    ("children's picture book", "kids story book", "illustrated fairy tale book", "bedtime stories for children"),
)


def item_text(item: int, n_items: int = 60, n_clusters: int = 4) -> str:
    cluster = item // (n_items // n_clusters)
    words = THEMES[cluster]
    return f"{words[item % len(words)]} number {item}"


def write_text_data(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """(interactions.csv, items.csv with columns item,title) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    inter = folder / "interactions.csv"
    clustered_interactions(n_users=120, per_user=14, seed=seed).to_csv(inter, index=False)
    items = folder / "items.csv"
    pd.DataFrame({"item": [f"i{i}" for i in range(60)], "title": [item_text(i) for i in range(60)]}).to_csv(
        items, index=False)
    return inter, items
