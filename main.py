"""Flowscope: ``python main.py --help``."""
import os
import sys

# Leave one core to the GUI (set before NumPy/torch load their BLAS thread pools).
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(max(1, (os.cpu_count() or 1) - 1)))

from app.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
