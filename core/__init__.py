"""Checkerboard Lab core: a pure library (numpy/torch/pandas/plotly), never importing
streamlit or the dashboard's ``ui`` package.

Six wings, each a sub-package whose docstring says what it holds; each imports only the
wings listed before it (``tests/core/test_architecture.py`` reads the imports and keeps it
so):

1. :mod:`core.io` - files and images in and out: safe decoding of uploads, pixel helpers,
   atomic writes, bounded CSV reading, the packaged photographs.
2. :mod:`core.maths` - the article's maths: overlap maps, the matrix C, metrics, phase
   gains, strided-convolution gradients.
3. :mod:`core.diagnose` - a picture's grid found without the network: the lattice test,
   JPEG blocks, the verdict of one picture and of a folder, the command line.
4. :mod:`core.upsamplers` - the registry of upsampling layers, the fused resize-convolution,
   timers and the layer lab's inputs.
5. :mod:`core.experiment` - the shipped experiment: the network, its training data,
   training, evaluation, checkpoints, histories, stored outputs and the catalog.
6. :mod:`core.audit` - the network audit, one stage a module.

``pip install`` installs this folder as the package ``checkerboard_lab`` (setup.py), so a
user's own ``core`` package can sit beside it; every import inside it is relative
(``tools/relative_imports.py`` keeps it so), which works under both names.
"""
