"""Event sources: HTTP, timer and queue triggers."""
