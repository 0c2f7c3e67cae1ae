"""``python -m operando`` (and ``torchrun -m operando ir train ...``): the ``operando`` command."""
from operando.cli.main import main

raise SystemExit(main())
