"""The separation pool: the engine, its Celery tasks and shell commands."""
