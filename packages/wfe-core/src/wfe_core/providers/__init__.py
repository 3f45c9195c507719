"""Providers shipped with wfe-core: the in-memory ones (``wfe_core.providers.memory``)."""
