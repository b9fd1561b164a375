"""python -m simcore: run the course's scenes headless."""
from .cli import main

raise SystemExit(main())
