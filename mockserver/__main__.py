"""``python -m mockserver``: see ``cli``."""

from .cli import main

main()
