# PYTHON_ARGCOMPLETE_OK
"""python -m installer.cli: the same as the pyinstall command."""

import sys

from installer.cli import main

sys.exit(main())
