"""`python -m emulator` is `sagemaker-emulator`."""

from emulator.cli import main

raise SystemExit(main())
