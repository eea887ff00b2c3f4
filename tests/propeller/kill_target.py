"""A propeller process for the kill-and-recover test: serves one store until it is killed."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.propeller.test_recovery import build_propeller

if __name__ == "__main__":
    store_url, home = sys.argv[1], Path(sys.argv[2])
    propeller, pool = build_propeller(store_url, home)
    print("serving", flush=True)
    propeller.serve()
