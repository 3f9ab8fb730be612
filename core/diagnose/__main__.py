"""``python -m core.diagnose``: the diagnosis's command line (:mod:`core.diagnose.cli`).

One BLAS thread a process, set before numpy loads: the work is many small products, which
threads only slow down on a shared machine; ``--jobs N`` runs N processes instead.
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

from .cli import main  # noqa: E402

raise SystemExit(main())
