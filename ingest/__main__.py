"""`python -m ingest` runs the seedwatch CLI."""

from .cli import main

if __name__ == "__main__":  # parser processes (forkserver) import this module without running it
    main()
