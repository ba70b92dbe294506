"""SQLite log of every model call (see :mod:`service.logs.calls`)."""
