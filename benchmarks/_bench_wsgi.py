"""The app as the keyword page benchmark serves it with gunicorn: the bench database, no rate limits."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402

app = create_app("testing")
app.config["RATELIMIT_ENABLED"] = False
