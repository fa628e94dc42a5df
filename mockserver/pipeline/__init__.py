"""The stages every request runs through: errors, authentication, limits, CORS, strict mode, access log."""
