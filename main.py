"""Start the QDT desktop application: ``python main.py [PROJECT]``."""

import sys

from qdt.ui.app import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
