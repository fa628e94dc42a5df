"""The diags-kit contract suite: checks over HTTP that a server honours the Inventory Device Diags contract.

Run it with ``python -m pytest contract_tests`` (against the embedded mock) or with
``--base-url URL --token T`` (against any server). ``conftest.py`` tells how to point it at staging and CI.
"""
