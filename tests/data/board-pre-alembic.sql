-- A board written by clawboo-host before versioned migrations (schema user_version 1),
-- by the store as it stood on main just before the move to SQLAlchemy + Alembic.
BEGIN TRANSACTION;
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL DEFAULT '',
  runtime TEXT,
  team_id TEXT REFERENCES teams(id) ON DELETE SET NULL,
  role TEXT,
  provider TEXT,
  model TEXT,
  config_json TEXT,
  created_at TEXT NOT NULL
);
INSERT INTO "agents" VALUES('agent-old','Old','codex','9382b45d-a7d3-440b-85b9-455b92133703','leader',NULL,NULL,NULL,'2026-12-03T08:29:22.303Z');
CREATE TABLE budgets (
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL DEFAULT 'agent' CHECK (scope IN ('agent', 'team', 'mission')),
  scope_id TEXT NOT NULL DEFAULT '',
  limit_usd_cents INTEGER NOT NULL DEFAULT 0,
  spent_micro_cents INTEGER NOT NULL DEFAULT 0,
  mode TEXT NOT NULL DEFAULT 'warn' CHECK (mode IN ('warn', 'cap')),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'soft_capped', 'paused')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (scope, scope_id)
);
INSERT INTO "budgets" VALUES(1,'team','9382b45d-a7d3-440b-85b9-455b92133703',500,1250000,'cap','active','2026-12-03T08:29:22.304Z','2026-12-03T08:29:22.304Z');
CREATE TABLE comments (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  author_agent_id TEXT,
  author_type TEXT NOT NULL DEFAULT 'user' CHECK (author_type IN ('agent', 'user', 'system')),
  body TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
INSERT INTO "comments" VALUES('573800c1-3df6-4e6a-acd8-f2760667160f','b374c059-5e38-4915-8650-82537d62d266',NULL,'user','first','2026-12-03T08:29:22.304Z');
INSERT INTO "comments" VALUES('764f0ed8-7660-4376-814f-5cc7fdd3c1ab','b374c059-5e38-4915-8650-82537d62d266',NULL,'user','second','2026-12-03T08:29:22.304Z');
CREATE TABLE executions (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  workspace_id TEXT REFERENCES workspaces(id) ON DELETE SET NULL,
  runtime_id TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
  started_at TEXT NOT NULL,
  completed_at TEXT,
  summary TEXT,
  error TEXT,
  cost_usd REAL,
  input_tokens INTEGER,
  output_tokens INTEGER,
  run_reason TEXT NOT NULL DEFAULT 'run',
  native_session_id TEXT,
  owner_pid INTEGER,
  owner_boot TEXT,
  process_groups TEXT,
  recovery_tombstone INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "executions" VALUES('3f447c9b-599d-45a8-a338-137cc9256d24','b3daf81d-1129-46fe-b0eb-a28d21631e82',NULL,'codex','running','2026-12-03T08:29:22.304Z',NULL,NULL,NULL,NULL,NULL,NULL,'run',NULL,999999,'gone','[[999998, "stamp"]]',0);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT,
  updated_at TEXT NOT NULL
);
INSERT INTO "settings" VALUES('leader','agent-old','2026-12-03T08:29:22.303Z');
INSERT INTO "settings" VALUES('k','v','2026-12-03T08:29:22.305Z');
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('backlog', 'todo', 'in_progress', 'in_review', 'blocked', 'done', 'cancelled')),
  priority INTEGER NOT NULL DEFAULT 0,
  team_id TEXT,
  parent_task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
  assignee_agent_id TEXT,
  assignee_runtime TEXT,
  claim_exec_id TEXT,
  worktree_ref TEXT,
  branch_ref TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  completed_at TEXT
);
INSERT INTO "tasks" VALUES('b374c059-5e38-4915-8650-82537d62d266','legacy root','made by the pre-Alembic store','todo',0,'9382b45d-a7d3-440b-85b9-455b92133703',NULL,NULL,NULL,NULL,'/wt','clawboo/t','2026-12-03T08:29:22.303Z','2026-12-03T08:29:22.304Z',NULL);
INSERT INTO "tasks" VALUES('b3daf81d-1129-46fe-b0eb-a28d21631e82','legacy child','','in_progress',0,NULL,'b374c059-5e38-4915-8650-82537d62d266','agent-old','codex','3f447c9b-599d-45a8-a338-137cc9256d24',NULL,NULL,'2026-12-03T08:29:22.304Z','2026-12-03T08:29:22.304Z',NULL);
CREATE TABLE teams (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL DEFAULT '',
  leader_agent_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
INSERT INTO "teams" VALUES('9382b45d-a7d3-440b-85b9-455b92133703','Old team','agent-old','2026-12-03T08:29:22.303Z','2026-12-03T08:29:22.303Z');
CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  repo_path TEXT,
  branch TEXT,
  worktree_path TEXT,
  base_commit TEXT,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived', 'stale')),
  created_at TEXT NOT NULL,
  last_used_at TEXT
);
INSERT INTO "workspaces" VALUES('567305e2-b87d-46b5-9372-c0c9c5e9056b','b374c059-5e38-4915-8650-82537d62d266','/repo','clawboo/t','/wt','abc','active','2026-12-03T08:29:22.304Z','2026-12-03T08:29:22.304Z');
CREATE INDEX idx_tasks_status ON tasks(status);
CREATE INDEX idx_tasks_team ON tasks(team_id);
CREATE INDEX idx_tasks_parent ON tasks(parent_task_id);
CREATE INDEX idx_comments_task ON comments(task_id, created_at);
CREATE INDEX idx_workspaces_task ON workspaces(task_id, created_at);
CREATE INDEX idx_executions_task ON executions(task_id, started_at);
CREATE INDEX idx_executions_status ON executions(status);
CREATE INDEX idx_agents_team ON agents(team_id);
COMMIT;
