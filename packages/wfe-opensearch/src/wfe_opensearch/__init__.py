"""wfe-opensearch."""
