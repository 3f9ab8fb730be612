"""The stored checkpoints for the pages: cached catalog, cached models and outputs.

Shared by the training gallery, the comparison page and the story page:

* :func:`load_catalog` lists the checkpoint folder (``$CHECKERBOARD_CHECKPOINTS``, by
  default ``checkpoints/``) and its manifest; :func:`show_catalog_problems` tells the
  visitor which files are missing or broken and how to regenerate them.
* :func:`run_model` gives a checkpoint's output on an image. Models are loaded once
  per process with ``st.cache_resource`` and never touched again (eval mode, no
  gradients); outputs are cached with ``st.cache_data`` keyed on the checkpoint's
  path and file stamp plus :func:`core.io.pixels.content_hash` of the input (Streamlit
  would hash a large array from a sample only).

The pure part (the :class:`core.experiment.catalog.Catalog` itself, loading and running a model)
is :mod:`core.experiment.catalog`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.experiment.catalog import (
    PERIOD,
    POST_EPOCH,
    REGENERATE,
    Catalog,
    Unavailable,
    build_catalog,
    file_stamp,
    folder_signature,
    load_model_fast,
    shown_path,
)
from core.experiment.checkpoints import CheckpointError
from core.experiment.history import read_histories
from core.experiment.outputs import ModelOutput, compute_output, read_output
from core.io.pixels import content_hash
from core.io.text import md_code, md_escape
from core.maths.metrics import checkerboard_score, format_score
from ui.common import ROOT

#: Environment variable naming the checkpoint folder (tests point it elsewhere).
CHECKPOINTS_ENV = "CHECKERBOARD_CHECKPOINTS"
#: Broken files listed by name on a page (a folder of thousands must not flood it).
MAX_BROKEN_SHOWN = 12


def checkpoint_root() -> Path:
    """The checkpoint folder: ``$CHECKERBOARD_CHECKPOINTS`` or ``checkpoints/``.

    A relative value is taken from the project root, so the dashboard finds its
    checkpoints whatever folder ``streamlit run`` was started from.
    """
    raw = os.environ.get(CHECKPOINTS_ENV, "").strip()
    path = Path(raw) if raw else Path("checkpoints")
    return path if path.is_absolute() else ROOT / path


@st.cache_data(max_entries=8, show_spinner=False)
def _catalog(root: str, signature: tuple) -> Catalog:
    return build_catalog(root)


def load_catalog(root: Path | None = None) -> Catalog:
    """The catalog of ``root`` (default :func:`checkpoint_root`), re-read when files change."""
    root = checkpoint_root() if root is None else root
    return _catalog(str(root), folder_signature(root))


def show_catalog_problems(catalog: Catalog) -> None:
    """Say what is missing or broken, which files, and how to regenerate them."""
    where = shown_path(catalog.root)
    if catalog.empty and catalog.broken.empty:
        exists = Path(catalog.root).is_dir()
        st.warning(
            f"No checkpoints found: the folder `{where}` "
            + ("holds no `<variant>/epoch_NNN.safetensors` files. " if exists else "does not exist. ")
            + f"Regenerate the shipped experiment with `{REGENERATE}` (about 40 minutes on two "
            f"CPU cores), or point `{CHECKPOINTS_ENV}` at a folder written by "
            "`python -m core.train`. Showing the photographs only.",
            icon=":material/folder_off:",
        )
    if not catalog.broken.empty:
        shown = catalog.broken.head(MAX_BROKEN_SHOWN)
        # md_code/md_escape: a file or folder name (backticks, brackets) is shown as
        # text, never as Markdown of the page's own error
        lines = "\n".join(
            f"- {md_code(shown_path(r.path))}: {md_escape(r.error.split(': ', 1)[-1])}"
            for r in shown.itertuples()
        )
        if len(catalog.broken) > len(shown):
            lines += f"\n- … and {len(catalog.broken) - len(shown)} more"
        st.error(
            f"{len(catalog.broken)} checkpoint file(s) cannot be read and are left out:\n\n"
            f"{lines}\n\nRegenerate them with `{REGENERATE}` (or `python -m core.train "
            "--variants <name> --resume` for one variant).",
            icon=":material/broken_image:",
        )
    if catalog.manifest_problem and not catalog.empty:
        st.info(f"Training curves: {md_escape(catalog.manifest_problem, 1000)}.",
                icon=":material/info:")


# --------------------------------------------------------------------------- models


@st.cache_resource(max_entries=128, show_spinner=False)
def _model_or_problem(path: str, stamp: tuple[int, int]) -> tuple[torch.nn.Module | None, str]:
    # A refusal is cached like a model (same key): a page, or its next rerun, never pays
    # for a broken file twice; a replaced file has another stamp and is tried again.
    try:
        return load_model_fast(path), ""
    except CheckpointError as err:
        return None, err.problem


def cached_model(path: str, stamp: tuple[int, int]) -> torch.nn.Module:
    """The model at ``path``, loaded once per process and shared by every visitor.

    Eval mode, float32, gradients off; callers must never modify it. ``stamp``
    (:func:`core.experiment.catalog.file_stamp`) reloads it when the file is replaced. A file
    that cannot be loaded raises :class:`core.experiment.checkpoints.CheckpointError`, and that
    refusal is cached too (until the file changes).
    """
    model, problem = _model_or_problem(path, stamp)
    if model is None:
        raise CheckpointError(path, problem)
    return model


# Bounded by count (Streamlit has no byte limit): 256 outputs of 256x256 are ~200 MB,
# enough for 7 variants x 11 epochs x 3 photographs.
@st.cache_data(max_entries=256, show_spinner=False)
def _output(path: str, stamp: tuple[int, int], digest: str, _image: np.ndarray) -> ModelOutput:
    # ``_image`` is not hashed by Streamlit: ``digest`` (its content hash) stands for it.
    # Stored beside the checkpoint (``python -m core.outputs``, run by ``make run``) when
    # current; else computed the same way (8-bit pixels, PNG, score of the float output).
    result = read_output(path, digest) or compute_output(cached_model(path, stamp), _image)
    return dataclasses.replace(result, key=f"{path}|{stamp}|{digest}")


def run_model(path: str, image: np.ndarray, digest: str | None = None) -> ModelOutput:
    """The output of the checkpoint at ``path`` on ``image`` (cached).

    Raises :class:`core.experiment.checkpoints.CheckpointError` naming the file when it cannot be
    loaded (cached with the file's stamp: a regenerated file is picked up at once).
    """
    digest = digest or content_hash(image)
    return _output(str(path), file_stamp(path), digest, image)


def model_output(catalog: Catalog, variant: str, epoch: int, image: np.ndarray,
                 digest: str) -> ModelOutput | Unavailable:
    """The output of ``variant`` at ``epoch`` on ``image``, or an :class:`Unavailable`
    saying why there is none (``missing``: no such checkpoint; ``broken``: a refused file).
    Shared by the gallery, comparison and story pages."""
    path = catalog.path(variant, epoch)
    if path is None:
        return Unavailable("missing", f"no checkpoint for epoch {epoch}")
    try:
        return run_model(path, image, digest)
    except CheckpointError as err:
        return Unavailable("broken", f"cannot load `{shown_path(path)}`: {err.problem}")


#: An output whose pixels spread less than this (standard deviation, 0..1 scale) is
#: nearly one flat colour: the untrained networks at epoch 0 draw a near-black square.
FLAT_STD = 0.02


def frame_caption(epoch: int, pixels: np.ndarray, score: float, *, unit: bool = True) -> str:
    """``"epoch 5 · 2.1 ×10⁻³"``; for a nearly flat output (std below :data:`FLAT_STD`)
    ``"epoch 0 · flat, no score"``: the score of a near-black square is not comparable
    with a photograph's (it read 0.47 ×10⁻³, as the clean photograph does)."""
    if float(np.std(pixels)) < FLAT_STD:
        return f"epoch {epoch} · flat, no score"
    return f"epoch {epoch} · {format_score(score, unit=unit)}"


@st.cache_data(max_entries=16, show_spinner=False)
def opening_epoch_note(start: int) -> str:
    """Why an epoch slider opens at ``start`` (:meth:`Catalog.default_epoch`): its help text."""
    if start == POST_EPOCH:
        return (f"Opens at epoch {start}, the length the post's Figure 7 networks were trained "
                "for; later epochs show how much of the artifact training hides.")
    return f"Opens at epoch {start}, the last one stored."


@st.cache_resource(show_spinner=False)
def heldout() -> dict[str, np.ndarray]:
    """The held-out photographs (never trained on), name -> float32 (H, W, 3): read once
    per server (every rerun of the gallery, Compare and the story wants them), shared
    read-only."""
    from core.io.photos import heldout_images

    images = heldout_images()
    for image in images.values():
        image.setflags(write=False)
    return images


@st.cache_data(max_entries=16, show_spinner=False)
def heldout_digests() -> dict[str, str]:
    return {name: content_hash(img) for name, img in heldout().items()}


@st.cache_data(max_entries=16, show_spinner=False)
def heldout_scores() -> dict[str, float]:
    """The checkerboard score of each held-out photograph itself (no network): the level
    the pages compare the models' scores with."""
    return {name: checkerboard_score(img, PERIOD) for name, img in heldout().items()}


@st.cache_data(max_entries=8, show_spinner=False)
def _histories(root: str, stamp: tuple) -> pd.DataFrame:
    return read_histories(root)


def histories(root: Path) -> pd.DataFrame:
    """The histories of ``root``, cached until one of its files changes."""
    return _histories(str(root), folder_signature(root))
