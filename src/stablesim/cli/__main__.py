"""`python -m stablesim.cli`."""

import sys

from ._main import main

sys.exit(main())
