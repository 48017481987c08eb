from fdi_drift.cli import main

raise SystemExit(main())
