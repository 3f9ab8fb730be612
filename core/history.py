"""``python -m core.history``: a thin entry point for :mod:`core.experiment.history`."""

from .experiment.history import main

if __name__ == "__main__":
    raise SystemExit(main())
