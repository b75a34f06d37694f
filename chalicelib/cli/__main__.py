"""`python -m chalicelib.cli`."""

import sys

from chalicelib.cli import main

sys.exit(main())
