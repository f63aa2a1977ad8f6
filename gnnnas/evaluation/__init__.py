"""Full-ranking evaluation: top-K metrics and the dataset-split evaluator."""

from gnnnas.evaluation.metrics import METRICS, metric_names, rank_top, topk_metrics, topk_ranking
from gnnnas.evaluation.ranking import (
    COLD_PREFIX, EvalResult, Evaluator, cold_splits, evaluate, evaluate_detailed, split_cold,
)

__all__ = [
    "METRICS",
    "COLD_PREFIX",
    "EvalResult",
    "cold_splits",
    "split_cold",
    "Evaluator",
    "evaluate",
    "evaluate_detailed",
    "metric_names",
    "rank_top",
    "topk_metrics",
    "topk_ranking",
]
