from xrdemo.cli import main
import sys

sys.exit(main())
