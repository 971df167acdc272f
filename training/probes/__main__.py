"""`python -m training.probes MODEL`: score a model on the capability probes."""

from training.probes.runner import main

raise SystemExit(main())
