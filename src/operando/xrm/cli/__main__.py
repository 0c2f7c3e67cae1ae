import sys

from operando.xrm.cli import main

sys.exit(main())
