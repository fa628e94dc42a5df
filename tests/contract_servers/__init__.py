"""Servers that put the contract suite itself to the test.

``reference`` is an independent, standard-library implementation of the documented contract that
makes every choice the documentation leaves open differently from our mock; its ``--break`` switches
each turn one documented rule into a realistic bug that the suite must catch.
"""
