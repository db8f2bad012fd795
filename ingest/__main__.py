"""`python -m ingest` runs the seedwatch CLI."""

from .cli import main

main()
