from bft.cli import main

raise SystemExit(main())
