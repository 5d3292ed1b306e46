import sys

from qdt.cli.main import main

sys.exit(main())
