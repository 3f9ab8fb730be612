"""The article's maths: what the blog post explains, as functions of numbers.

Overlap and coverage maps of a transposed convolution (:mod:`core.maths.overlap`), the
convolution as a matrix C and its transpose (:mod:`core.maths.matrix`), the checkerboard
metrics and spectra (:mod:`core.maths.metrics`), a sound's artifact tones and spectrogram
(:mod:`core.maths.spectrogram`), per-phase gains measured from a layer's
response (:mod:`core.maths.phase_gains`) and strided-convolution gradients
(:mod:`core.maths.gradients`). Overlap, metrics, spectra and phase gains take any rank
(``dims``: 1 a sound, 2 an image, 3 a volume) through one code path. It may import :mod:`core.io` only.
"""
