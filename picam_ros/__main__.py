"""``python -m picam_ros``: the standalone runner (see :mod:`picam_ros.cli`)."""

import sys

from picam_ros.cli import main

sys.exit(main())
