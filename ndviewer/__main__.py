import sys

from ndviewer.cli import main

sys.exit(main())
