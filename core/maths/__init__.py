"""The article's maths: what the blog post explains, as functions of numbers.

Overlap and coverage maps of a transposed convolution (:mod:`core.maths.overlap`), the
convolution as a matrix C and its transpose (:mod:`core.maths.matrix`), the checkerboard
metrics and spectra (:mod:`core.maths.metrics`), per-phase gains measured from a layer's
response (:mod:`core.maths.phase_gains`) and strided-convolution gradients
(:mod:`core.maths.gradients`). It may import :mod:`core.io` only.
"""
