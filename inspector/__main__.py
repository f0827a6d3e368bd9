"""`python -m inspector` runs the command line, as the `inspector` script does."""

from inspector.cli import main

main()
