"""Reusable widgets of the console: the virtual table, forms and dialogs."""
