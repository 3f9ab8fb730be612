"""The shipped experiment's folder, its file names and the variants the audit quotes: a leaf
module (no imports from the lab), shared by the history reader, the front and the audit's
stored lines (:mod:`core.experiment.remedies`)."""

from __future__ import annotations

from pathlib import Path

#: A variant's training history, ``<root>/<variant>/history.csv``.
HISTORY_NAME = "history.csv"
#: The post's recommendation and the layer it replaces.
POST_FIX, DECONV = "resize_nearest", "deconv3"
#: Variants whose upsampler is a transposed convolution followed by a fixed smoothing, or a
#: sub-pixel convolution followed by one: the remedies that keep the learned upsampler.
KEEP_CAPACITY = ("deconv_zoh", "deconv_foh", "subpixel_icnr_blur")
#: The variants the audit's measured lines quote, in order.
QUOTED = (DECONV, POST_FIX, *KEEP_CAPACITY)

#: The shipped experiment's histories (the audit quotes its measurements): a clone's
#: ``checkpoints/``; installed with pip, the copies of its ``<variant>/history.csv`` (and
#: ``remedies.json``) that the wheel carries (setup.py), since the checkpoints themselves
#: stay in the clone.
SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"
if not SHIPPED.is_dir():
    SHIPPED = Path(__file__).resolve().parents[1] / "shipped_histories"
