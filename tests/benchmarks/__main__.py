"""`python -m tests.benchmarks`: every benchmark, one table (see run.py)."""

import sys

from tests.benchmarks.run import main

sys.exit(main())
