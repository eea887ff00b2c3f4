"""A workload script that never finishes (the budget test's tool)."""

import time

time.sleep(600)
