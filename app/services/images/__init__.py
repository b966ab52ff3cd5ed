"""Stages 5–6: image prompts for articles, images made from them, their storage and placement."""
