"""Entry point of the PyInstaller bundle (frozen apps need freeze_support for the index workers)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from ndviewer.cli import main

    sys.exit(main())
