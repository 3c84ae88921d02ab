"""Serving translations online: an engine thread that owns the device and feeds the Translator's live search from
a bounded queue, an ASGI app (Starlette) in front of it, and its Prometheus metrics."""
