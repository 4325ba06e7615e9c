"""Flowscope from a checkout: ``python main.py --help`` (the same entry as ``flowscope``)."""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
