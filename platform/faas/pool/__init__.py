"""The container pool: states (pure), scheduling decisions (pure), the runtime client and the manager."""
