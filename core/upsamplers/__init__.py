"""The upsampling layers: one registry, looked up by name everywhere.

The layer classes and their padding arithmetic (:mod:`core.upsamplers.layers`), the
resize-convolution computed at transposed-convolution cost
(:mod:`core.upsamplers.fused`), the registry itself (:mod:`core.upsamplers.registry`:
``make_upsampler``, ``UPSAMPLERS``; ``dims=1`` and ``dims=3`` for sounds and volumes),
weights as after training (:mod:`core.upsamplers.phases`), timers (:mod:`core.upsamplers.timing`) and the layer
lab's inputs (:mod:`core.upsamplers.lab_inputs`). It may import :mod:`core.io` and
:mod:`core.maths`.
"""
