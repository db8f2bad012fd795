"""The seedwatch command: `python -m ingest`, and the `seedwatch` script, which calls main() here.

A parser process started from the `seedwatch` script runs that script again (multiprocessing does so
for a __main__ given by path), so the script imports this module, which imports nothing until main() runs.
"""

from __future__ import annotations


def main() -> None:
    """Run the seedwatch CLI."""
    from .cli import main as cli

    cli()


if __name__ == "__main__":  # parser processes (forkserver) may import this module without running it
    main()
