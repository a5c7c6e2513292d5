from irt_desktop.cli import main

raise SystemExit(main())
