"""Full-ranking evaluation: top-K metrics and the dataset-split evaluator."""

from gnnnas.evaluation.metrics import METRICS, metric_names, topk_metrics, topk_ranking
from gnnnas.evaluation.ranking import EvalResult, Evaluator, evaluate, evaluate_detailed

__all__ = [
    "METRICS",
    "EvalResult",
    "Evaluator",
    "evaluate",
    "evaluate_detailed",
    "metric_names",
    "topk_metrics",
    "topk_ranking",
]
