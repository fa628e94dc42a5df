"""``python -m mockserver``: see ``cli``."""

from .serving.cli import main

main()
