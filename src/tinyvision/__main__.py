from tinyvision.cli import main

raise SystemExit(main())
