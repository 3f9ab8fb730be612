"""The upsampling layers: one registry, looked up by name everywhere.

The layer classes and their padding arithmetic (:mod:`core.upsamplers.layers`), the
resize-convolution computed at transposed-convolution cost
(:mod:`core.upsamplers.fused`), the registry itself (:mod:`core.upsamplers.registry`:
``make_upsampler``, ``UPSAMPLERS``), timers (:mod:`core.upsamplers.timing`) and the layer
lab's inputs (:mod:`core.upsamplers.lab_inputs`). It may import :mod:`core.io` and
:mod:`core.maths`.
"""
