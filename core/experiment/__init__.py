"""The shipped experiment: transformation networks trained with a pixel loss, epoch by epoch.

The network (:mod:`core.experiment.models`), its training data
(:mod:`core.experiment.data`), the training loop (:mod:`core.experiment.train`) and its
command line (:mod:`core.experiment.cli`, ``python -m core.train``), per-epoch evaluation
(:mod:`core.experiment.evaluation`), self-describing checkpoints
(:mod:`core.experiment.checkpoints`), its CSV tables, read without torch
(:mod:`core.experiment.tables`), histories (:mod:`core.experiment.history`), stored
outputs (:mod:`core.experiment.outputs`) and the catalog the pages read
(:mod:`core.experiment.catalog`). It may import :mod:`core.io`, :mod:`core.maths` and
:mod:`core.upsamplers`.
"""
