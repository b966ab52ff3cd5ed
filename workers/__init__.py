"""RQ entry points and the worker and scheduler processes."""
