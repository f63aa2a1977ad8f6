"""Declarative search spaces: YAML files that describe sets of :class:`~gnnnas.models.spec.ArchSpec`.

Use::

    from gnnnas.space import load_space, RandomTrial
    space = load_space("default")                  # a bundled name, or a path to a .yaml file
    spec = space.sample(RandomTrial(0))             # or an optuna Trial: space.sample(study.ask())
    spec == space.to_spec(trial.params)             # rebuild from recorded parameters
    space.count()                                   # distinct architectures (float ranges count once)

File format
-----------
::

    name: attention                      # required; letters, digits, _ - .
    description: GAT/GATv2 stacks ...    # required; one line
    search:                              # optional; how each candidate is trained
      max_epochs: 50                     #   defaults: 50, 5, 1, ndcg@20
      patience: 5                        #   evaluations without improvement (>= 1)
      eval_every: 1                      #   epochs between evaluations (<= max_epochs)
      metric: ndcg@20                    #   NAME@K, NAME in recall ndcg precision hitrate mrr coverage
    presets: [gat]                       # optional; named architectures (gnnnas.models.presets) added as-is
    architecture:                        # one value per architecture
      embedding_dim: [32, 64, 128]       # a list: categorical choices
      skip: residual                     # a scalar: fixed value
      edge_dropout: {low: 0.0, high: 0.3}
      scoring: dot
      combination: {choices: [mean, concat], when: {num_layers: [2, 3]}}
      features: id
    layers:                              # the layer stack
      num_layers: {low: 0, high: 4}      # 0 layers = matrix factorisation
      per_layer: independent             # default mode of this section: independent | shared
      aggregator: [gcn, gat, gatv2]
      hidden: {choices: [64, 128], per_layer: shared}
      heads: {choices: [1, 2, 4], when: {aggregator: [gat, gatv2]}}
      head_combine: [concat, mean]
      activation: [relu, prelu]
      dropout: [0.0, 0.1]
      norm: [none, batch]
    training:                            # training knobs that interact with the architecture
      lr: {low: 1.0e-4, high: 1.0e-2, log: true}
      l2: {low: 1.0e-6, high: 1.0e-3, log: true}
      batch_size: [1024, 2048]
      num_negatives: {low: 1, high: 4}
      loss: bpr

Every field of ArchSpec, LayerSpec and TrainingSpec can be named, each in its
section; a field the file does not name keeps its ArchSpec default (so does
``num_layers``: 0). A field's value is one of

* a scalar or ``{value: X}``: fixed, never suggested;
* a list or ``{choices: [...]}``: categorical (non-empty, no duplicates);
* ``{low: L, high: H}`` with optional ``step`` (integers; must divide
  ``H - L``) and ``log: true`` (``L > 0``; integers: step 1): a range,
  ``[L, H]`` inclusive. Float fields take no ``step``; list a grid as choices.

Values are checked against the spec's constants (aggregator names, activation
names, ``dropout`` in ``[0, 1)``, ``lr > 0``, ...). Float fields also accept
``1e-4`` (which YAML 1.1 reads as text).

Per-layer fields (``layers`` section, except ``num_layers``) are chosen
``independent``-ly for each layer or ``shared`` by all layers: the section's
``per_layer`` key sets the default (``independent``), a field's own
``per_layer`` overrides it.

``when: {DIM: [values], ...}`` makes a field conditional: it is suggested
only when every named dimension (declared in the same file) takes one of the
listed values, and keeps its default otherwise. Architecture and training
fields may only depend on architecture/training fields and ``num_layers``;
per-layer fields may depend on anything (on the same layer's value of an
independent field; a *shared* field that depends on an independent one is
suggested once if its condition holds on any layer and applies only there).
``hidden`` (skipped for parameter-free aggregators, whose width is their
input's), ``heads`` and ``head_combine`` (attention aggregators only) carry
that restriction implicitly. Attention layers that concatenate heads need
``hidden`` divisible by ``heads``; the file must allow no pair that is not.

``presets: [NAME, ...]`` (non-empty, distinct names of
:data:`gnnnas.models.presets.PRESETS`) makes the space the union of the
declared dimensions and those fixed architectures: sampling first suggests
``preset`` from ``searched`` plus the names, and a chosen preset is returned
as is with nothing else suggested. A file with presets and no
``architecture``, ``layers`` or ``training`` section is only its presets.

Parameter names
---------------
Architecture fields and ``num_layers``: the field name (``embedding_dim``);
training fields: ``training.lr``; shared per-layer fields: the field name
(``aggregator``); independent ones: ``layer0.aggregator``, ``layer1.heads``.
With presets, ``preset`` comes first (``searched`` or a preset name).
Only active dimensions are suggested, so Optuna's samplers see the
conditional structure; fixed values never appear in ``trial.params``.
"""

from gnnnas.space.catalog import BUNDLED_DIR, bundled_path, list_spaces, load_space
from gnnnas.space.distributions import Categorical, Fixed, FloatRange, IntRange, OrderedChoices, TrialLike
from gnnnas.space.fields import FIELDS, Field
from gnnnas.space.schema import load_file, parse_space
from gnnnas.space.settings import SearchSettings
from gnnnas.space.source import SpaceError
from gnnnas.space.space import Condition, Dimension, SearchSpace
from gnnnas.space.trials import RandomTrial, ReplayTrial

__all__ = [
    "BUNDLED_DIR", "Categorical", "Condition", "Dimension", "FIELDS", "Field", "Fixed", "FloatRange", "IntRange",
    "OrderedChoices", "RandomTrial", "ReplayTrial", "SearchSettings", "SearchSpace", "SpaceError", "TrialLike",
    "bundled_path", "list_spaces", "load_file", "load_space", "parse_space",
]
