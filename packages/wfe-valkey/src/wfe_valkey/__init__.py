"""wfe-valkey."""
