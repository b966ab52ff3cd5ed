"""Planner: keywords, clustering, ideas and tasks (pipeline stages 1–3)."""
