"""The benchmark of the mock: ``python -m bench.run`` (``make bench``); see ``bench/README.md``."""
