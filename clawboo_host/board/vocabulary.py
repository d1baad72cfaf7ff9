"""The board's closed sets of values: what the schema's CHECK constraints and the API's enums
allow. Plain tuples, importable without SQLAlchemy (the API's contract is built at start)."""

AUTHOR_TYPES = ("agent", "user", "system")
EXECUTION_STATUSES = ("running", "succeeded", "failed", "cancelled", "timed_out")
EXECUTION_TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")
WORKSPACE_STATUSES = ("active", "archived", "stale")
BUDGET_SCOPES = ("agent", "team", "mission")
BUDGET_MODES = ("warn", "cap")
BUDGET_STATUSES = ("active", "soft_capped", "paused")
