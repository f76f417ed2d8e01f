"""prodready: production-readiness scanner with evidence."""

__version__ = "0.1.0"
