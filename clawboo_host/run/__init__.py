"""Drive one board task on one runtime, as plain steps a reader can hold in their head.

- :mod:`.prepare` — the ordered refusals, the atomic claim, the workspace;
- :mod:`.prompt` — what the runtime is told;
- :mod:`.execution` — one plugin execution, from its context to its ``Done``;
- :mod:`.accounting` — cost, budgets, the chain's totals;
- :mod:`.report` — report-up: comment, close the execution, move or release the task;
- :mod:`.orchestrator` — the :class:`Executor` that runs those steps in order.
"""

from .model import ASSIGNEE_PATTERN, PreparedRun, RunRefused, RunRequest
from .orchestrator import Executor

__all__ = ["ASSIGNEE_PATTERN", "Executor", "PreparedRun", "RunRefused", "RunRequest"]
