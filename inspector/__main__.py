"""`python -m inspector` runs the command line, as the `inspector` script does."""

from inspector.cli import main

if __name__ == "__main__":
    main()
