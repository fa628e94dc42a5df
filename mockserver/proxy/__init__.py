"""The validation proxy: ``python -m mockserver proxy --upstream URL`` forwards every request to a real
server and checks each exchange with the contract suite's claims.

``app.create_app(config)`` builds it: a small Flask app for the proxy's own admin API (``admin.py``) behind
the forwarding middleware (``forward.py``), which hands each exchange to the app's inspector: the request
is checked against the documented shapes (``request_shapes.py``), the response with the catalogue's
claims, alone and against earlier traffic (``traffic.py``, with ``near_misses.py`` for tokens and device ids
one edit off; ``scope.py`` lists the claims traffic cannot show, and why); the violations go to the ``Ledger``
(``violations.py``) and, with ``--record``, the records seen to the ``RecordBook`` (``recorder.py``).
State lives in the one worker process, so the proxy always runs one worker.
"""
