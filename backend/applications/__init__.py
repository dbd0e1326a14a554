""" "At most one trip" applications: submission, review, deadlines, trips, ratings, statistics.

No other feature uses applications: the composition root (backend/app.py, the CLI) wires
its routers and worker, so nothing is public here (import-linter's "applications
internals" contract in pyproject.toml keeps it so).
"""

__all__: list[str] = []
