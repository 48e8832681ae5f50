"""``python -m tf_style`` works like the ``tf-style`` command."""

import sys

from tf_style.cli import main

if __name__ == "__main__":
    sys.exit(main())
