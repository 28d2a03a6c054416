from core import logsafe as _logsafe  # noqa: F401  (escapes CR/LF in every driftwatch log record)
