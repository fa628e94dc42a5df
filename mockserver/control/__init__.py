"""The control plane under ``/__admin/``: the admin API, injected faults, the request journal."""
