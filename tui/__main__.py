"""`python -m tui`: the same as the installed `narou-tui` command."""

import sys

from tui.entry import main

sys.exit(main())
