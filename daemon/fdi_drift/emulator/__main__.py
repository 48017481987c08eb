"""`python -m fdi_drift.emulator`: run the emulator alone, as `fdi-drift emulator` does."""

from __future__ import annotations

import sys

from fdi_drift.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
