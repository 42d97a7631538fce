"""Services own behaviour; the TUI and the HTTP API are thin faces over them."""
