import sys

from ndviewer.cli import main

if __name__ == "__main__":
    if getattr(sys, "frozen", False):  # a frozen app's worker processes start through here
        import multiprocessing

        multiprocessing.freeze_support()
    sys.exit(main())
