"""wfe-yaml."""
