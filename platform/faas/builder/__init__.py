"""Turns user code into container images: code checks, build contexts, the runtime image and builds."""
