"""Layers: files published once and shared by many functions under /opt (model, Redis store, service, host files)."""
