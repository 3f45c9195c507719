"""wfe-postgres."""
