"""``python -m operando`` (and ``torchrun -m operando train ...``): the ``operando`` command."""
from operando.cli.main import main

raise SystemExit(main())
