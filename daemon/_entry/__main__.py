"""``python -m evidock``: the ``evidock`` command, for when the script is not on PATH."""

import sys

from evidock.daemon.cli.main import main

sys.exit(main())
