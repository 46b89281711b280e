"""`python -m localmode.sandbox`: see server.py."""

import sys

from localmode.sandbox.server import main

sys.exit(main())
