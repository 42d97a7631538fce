"""The console: a Textual app over the same services the HTTP API uses."""
