"""`python -m tagwire`: the same as the `tagwire` command."""

import sys

from tagwire.cli import main

sys.exit(main())
