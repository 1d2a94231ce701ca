"""Database access: where the server is, how to reach it, and its schema migrations."""
