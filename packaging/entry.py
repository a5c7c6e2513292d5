"""PyInstaller's entry script: the same `main` as the `irt-desktop` console script."""

from irt_desktop.cli import main

raise SystemExit(main())
