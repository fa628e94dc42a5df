"""Where the data lives: the in-memory store and the SQLite one (``--db``)."""
