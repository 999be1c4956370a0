"""`python -m smallville.monitor`: the monitor on its own (what `--monitor` starts beside a run)."""

import sys

from smallville.monitor.command import main

sys.exit(main())
