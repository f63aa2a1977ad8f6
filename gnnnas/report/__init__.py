"""The HTML report of a search: ``<out>/report.html``, one self-contained file that opens offline.

Every search writes it when it finishes (:func:`on_finish`, a
:data:`gnnnas.search.api.FINISH_HOOKS` hook); ``gnnnas report DIR`` rebuilds it
from the study storage at any time, also while the search still runs.
"""

from __future__ import annotations

from gnnnas.report.build import REPORT_HTML, on_finish, render, write_report

__all__ = ["REPORT_HTML", "on_finish", "render", "write_report"]
