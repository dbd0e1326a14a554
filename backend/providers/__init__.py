"""Provider onboarding: departments register, version and publish adapters, propose services.

No other feature uses providers: the composition root (backend/app.py, the CLI, migrate)
wires its routers, adapter sync and health tasks, so nothing is public here
(import-linter's "providers internals" contract in pyproject.toml keeps it so).
"""

__all__: list[str] = []
