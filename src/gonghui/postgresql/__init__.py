"""PostgreSQL backend: Django's, with parameters bound by the server (see base.py)."""
