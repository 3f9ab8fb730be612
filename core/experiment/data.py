"""Training data: the default training set and a user's folder, as random crops.

* With no folder, the photographs and textures that ship inside our dependencies
  (:mod:`core.io.photos`) are used: scikit-image's colour photographs
  (:data:`SKIMAGE_TRAIN`) and greyscale photographs and textures
  (:data:`SKIMAGE_GREY_TRAIN`), and scikit-learn's ``flower.jpg``
  (:data:`SKLEARN_TRAIN`). Greyscale images are replicated to three equal channels and
  drawn half as often as colour ones (:data:`GREY_WEIGHT`), so colour stays the rule.
* :class:`RandomCrops` is a map-style dataset of ``crops_per_epoch`` random crops
  with random horizontal/vertical flips. Crop ``i`` of epoch ``e`` is a pure function
  of ``(seed, e, i)``, so a run is deterministic for a given seed whatever the number
  of processes or the order in which a sampler visits the indices.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..io.photos import (
    GREY_WEIGHT,
    HELDOUT_SIZE,
    IMAGE_EXTENSIONS,
    SKIMAGE_GREY_TRAIN,
    SKIMAGE_HELDOUT,
    SKIMAGE_TRAIN,
    SKLEARN_TRAIN,
    UNSEEN,
    ImageSet,
    find_images,
    heldout_images,
    load_images,
    resize_center_crop,
    skimage_data_dir,
    sklearn_images_dir,
    unseen_images,
)
from ..io.text import safe_text

#: A training image whose 8-bit levels span at most this many steps is "flat".
FLAT_LEVELS = 2


def default_train_paths() -> list[tuple[Path, float]]:
    """The default training images with their sampling weights (see module docstring)."""
    sk, sl = skimage_data_dir(), sklearn_images_dir()
    return ([(sk / f, 1.0) for f in SKIMAGE_TRAIN] + [(sl / f, 1.0) for f in SKLEARN_TRAIN]
            + [(sk / f, GREY_WEIGHT) for f in SKIMAGE_GREY_TRAIN])


def split_folder(paths: Sequence[Path], val_fraction: float) -> tuple[list[Path], list[Path]]:
    """Deterministic train/validation split of a user's folder by a hash of each file name.

    A file is held out when ``crc32(relative name) / 2**32 < val_fraction``; at least one
    file is held out when there are two or more and ``val_fraction > 0``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    keyed = sorted(paths, key=lambda p: zlib.crc32(os.fsencode(p.name)))
    val = [p for p in keyed if zlib.crc32(os.fsencode(p.name)) / 2**32 < val_fraction]
    if not val and val_fraction > 0 and len(keyed) >= 2:
        val = keyed[:1]
    train = [p for p in paths if p not in val]
    return train, sorted(val)


@dataclass
class DataSource:
    """Training images, validation images (float (H, W, 3)) and a description for metadata."""

    train: ImageSet
    validation: dict[str, np.ndarray]
    description: dict
    #: sampling weight per training image (None: uniform)
    weights: list[float] | None = None
    #: further unseen images, evaluated separately (metrics prefixed ``unseen_``)
    unseen: dict[str, np.ndarray] = field(default_factory=dict)


def default_source() -> DataSource:
    """The packaged photographs and textures: :func:`default_train_paths` to train,
    SKIMAGE_HELDOUT to validate, UNSEEN as the detailed unseen test."""
    paths = default_train_paths()
    train = load_images([p for p, _ in paths])
    if train.skipped or not train.images:
        raise ValueError(f"packaged data files unreadable: {train.skipped}")
    weights = [w for _, w in paths]
    desc = {
        "source": "photographs and textures packaged with scikit-image and scikit-learn",
        "train": [Path(n).name for n in train.names],
        "train_weights": weights,
        "grey_weight": GREY_WEIGHT,
        "heldout": list(SKIMAGE_HELDOUT),
        "heldout_size": HELDOUT_SIZE,
        "unseen": list(UNSEEN),
        "skipped": 0,
    }
    return DataSource(train, heldout_images(), desc, weights=weights, unseen=unseen_images())


def folder_source(folder: str | Path, *, crop_size: int, val_fraction: float = 0.1,
                  val_size: int = HELDOUT_SIZE) -> DataSource:
    """A user's folder: a hashed ``val_fraction`` of files held out, the rest cropped."""
    paths = find_images(folder)
    if not paths:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {str(folder)!r}")
    train_paths, val_paths = split_folder(paths, val_fraction)
    train = load_images(train_paths, min_size=crop_size)
    val_set = load_images(val_paths)
    if not train.images:
        reasons = "; ".join(f"{Path(k).name}: {v}" for k, v in list(train.skipped.items())[:5])
        raise ValueError(
            f"no readable training image of at least {crop_size} px under {str(folder)!r} "
            f"({len(train.skipped)} skipped: {reasons})"
        )
    flat = [Path(n).name for n, img in zip(train.names, train.images, strict=True)
            if int(img.max()) - int(img.min()) <= FLAT_LEVELS]
    if len(flat) == len(train.images):
        raise ValueError(
            f"every training image under {safe_text(folder)!r} is flat (at most "
            f"{FLAT_LEVELS + 1} grey levels: all black, all white or one colour; e.g. "
            f"{', '.join(repr(safe_text(n)) for n in flat[:3])}): a network would learn "
            "nothing and its scores would mean nothing. Check how the images were saved "
            "(a float image written as 8-bit, a mask instead of a photograph)")
    validation = {
        Path(n).stem: resize_center_crop(img, min(val_size, *img.shape[:2])).astype(np.float32)
        / 255.0
        for n, img in zip(val_set.names, val_set.images, strict=True)
    }
    warning = None
    if not validation:
        # Nothing held out (one image, or every held-out file unreadable): measure on the
        # first training image rather than report NaN, and say so.
        name, img = Path(train.names[0]).stem, train.images[0]
        validation = {f"{name} (training image)":
                      resize_center_crop(img, min(val_size, *img.shape[:2])).astype(np.float32)
                      / 255.0}
        warning = (f"nothing is held out of {str(folder)!r} ({len(paths)} image(s)); the "
                   f"metrics are measured on the training image {name!r}, so they show "
                   "fitting, not generalisation. Add more images for a held-out set.")
    if flat:
        note = (f"{len(flat)} of {len(train.images)} training images are flat (one grey "
                f"level or nearly): {', '.join(repr(safe_text(n)) for n in flat[:5])}")
        warning = f"{warning} {note}" if warning else note
    digest = hashlib.sha256("\n".join(safe_text(p) for p in paths).encode()).hexdigest()[:16]
    desc = {
        "source": f"folder {str(folder)}",
        "files": len(paths),
        "train": len(train.images),
        "heldout": [Path(n).name for n in val_set.names],
        "skipped": len(train.skipped) + len(val_set.skipped),
        "skipped_files": {Path(k).name: v for k, v in
                          list((train.skipped | val_set.skipped).items())[:20]},
        "list_sha256": digest,
    }
    if warning:
        desc["warning"] = warning
    return DataSource(train, validation, desc)


class RandomCrops(torch.utils.data.Dataset):
    """``crops_per_epoch`` random ``crop_size`` crops with random flips, per epoch.

    Item ``i`` of epoch ``e`` draws, from ``numpy.random.default_rng([seed, e, i])``:
    an image (uniformly, or by ``weights``), a top-left corner (uniformly), a horizontal and a vertical
    flip (each with probability 1/2) and, with ``colour_permute``, a random order of the
    three colour channels (one of six, uniformly). The permutation multiplies the few
    colours of the training photographs by six, so the networks learn to reproduce
    colours (greens, blues) that the bundled photographs barely contain.
    Returns float32 (3, crop, crop) in [0, 1].
    Call :meth:`set_epoch` before each epoch.
    """

    def __init__(self, images: Sequence[np.ndarray], crop_size: int, crops_per_epoch: int,
                 seed: int, *, colour_permute: bool = False,
                 weights: Sequence[float] | None = None) -> None:
        if crop_size < 4:
            raise ValueError(f"crop_size must be >= 4, got {crop_size}")
        if crops_per_epoch < 1:
            raise ValueError(f"crops_per_epoch must be >= 1, got {crops_per_epoch}")
        small = [i for i, im in enumerate(images) if min(im.shape[:2]) < crop_size]
        if small or not images:
            raise ValueError(f"every image must be at least crop_size={crop_size} px; "
                             f"too small: {small}, images: {len(images)}")
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (len(images),) or not np.all(np.isfinite(w)) or np.any(w < 0) \
                    or w.sum() <= 0:
                raise ValueError(f"weights must be {len(images)} non-negative numbers with a "
                                 f"positive sum, got {list(weights)}")
            weights = w / w.sum()
        self.weights = weights
        self.images = list(images)
        self.crop_size = crop_size
        self.crops_per_epoch = crops_per_epoch
        self.seed = seed
        self.colour_permute = colour_permute
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.crops_per_epoch

    def __getitem__(self, i: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if self.weights is None:
            img = self.images[rng.integers(len(self.images))]
        else:
            img = self.images[rng.choice(len(self.images), p=self.weights)]
        h, w = img.shape[:2]
        c = self.crop_size
        top, left = rng.integers(h - c + 1), rng.integers(w - c + 1)
        crop = img[top : top + c, left : left + c]  # (c, c, 3) uint8
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.5:
            crop = crop[::-1]
        if self.colour_permute:
            crop = crop[:, :, rng.permutation(3)]
        t = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)  # (3, c, c)
        return t.float().div_(255.0)
