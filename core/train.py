"""``python -m core.train``: a thin entry point; training lives in :mod:`core.experiment`."""

from .experiment.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
