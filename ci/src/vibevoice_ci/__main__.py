"""`python -m vibevoice_ci`: see `vibevoice_ci.cli`."""

from vibevoice_ci.cli import main

raise SystemExit(main())
