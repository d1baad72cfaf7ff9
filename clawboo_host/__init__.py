"""clawboo-host: coding-agent runtimes behind one HTTP API, as pluggy plugins."""

__version__ = "0.1.0"
