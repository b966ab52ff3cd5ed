"""The AI engine: model catalogue, providers, the function framework and its functions."""

from app.services.ai import cluster_naming  # noqa: E402,F401  (registers the function and its job kind)
