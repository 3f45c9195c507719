"""wfe-sqlite."""
