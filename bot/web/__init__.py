"""Web pages: the chat simulator (and, later, the admin)."""
