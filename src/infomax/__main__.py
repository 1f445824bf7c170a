"""``python -m infomax``: the ``infomax`` command, for environments without the console
script on PATH."""

import sys

from infomax.cli import main

sys.exit(main())
