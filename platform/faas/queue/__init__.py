"""Asynchronous invocations: events kept in Redis until they end, RQ workers that run them through the
control plane, retries (function errors counted, system errors with backoff), destinations."""
