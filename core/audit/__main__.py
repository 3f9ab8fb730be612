"""``python -m core.audit``: the audit's command line (:mod:`core.audit.cli`)."""

from .cli import main

raise SystemExit(main())
