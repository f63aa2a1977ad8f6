"""Public home of the ranking metrics (``gnnnas.metrics.topk_metrics``); see :mod:`gnnnas.evaluation.metrics`."""

from gnnnas.evaluation.metrics import METRICS, metric_names, topk_metrics, topk_ranking

__all__ = ["METRICS", "metric_names", "topk_metrics", "topk_ranking"]
