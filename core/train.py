"""``python -m core.train``: a thin entry point; training lives in :mod:`core.experiment`."""

from core.experiment.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
