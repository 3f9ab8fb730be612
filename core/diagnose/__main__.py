"""``python -m core.diagnose``: the diagnosis's command line (:mod:`core.diagnose.cli`)."""

from core.diagnose.cli import main

raise SystemExit(main())
