"""``python -m core.outputs``: a thin entry point for :mod:`core.experiment.outputs`."""

from .experiment.outputs import main

if __name__ == "__main__":
    raise SystemExit(main())
