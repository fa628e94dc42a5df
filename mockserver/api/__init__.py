"""The one resource: its views, query and payload checks, diagnostic refreshes, and the docs pages."""
