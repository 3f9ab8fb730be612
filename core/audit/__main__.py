"""``python -m core.audit``: the audit's command line (:mod:`core.audit.cli`)."""

from core.audit.cli import main

raise SystemExit(main())
