"""``python -m vodflow``: the same command line as the ``vodflow`` console script."""

from vodflow.cli import main

main()
