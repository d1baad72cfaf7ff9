-- A board written by clawboo-host before versioned migrations (schema user_version 1).
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
INSERT INTO "agents" VALUES('agent-old','Old','codex','84f0abae-a4c7-491b-b764-c1d13ca06628','leader',NULL,NULL,NULL,'2026-12-03T08:17:45.126Z');
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
INSERT INTO "budgets" VALUES(1,'team','84f0abae-a4c7-491b-b764-c1d13ca06628',500,1250000,'cap','active','2026-12-03T08:17:45.127Z','2026-12-03T08:17:45.127Z');
CREATE TABLE comments (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  author_agent_id TEXT,
  author_type TEXT NOT NULL DEFAULT 'user' CHECK (author_type IN ('agent', 'user', 'system')),
  body TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
INSERT INTO "comments" VALUES('c9b76973-05a3-4013-9d8e-d2f7f28a0731','9b2be9f5-8222-4ad1-a6b1-f9803651fe55',NULL,'user','first','2026-12-03T08:17:45.127Z');
INSERT INTO "comments" VALUES('0350fc4a-266d-4a81-81bb-9fe67a284a37','9b2be9f5-8222-4ad1-a6b1-f9803651fe55',NULL,'user','second','2026-12-03T08:17:45.127Z');
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
  recovery_tombstone INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "executions" VALUES('6eb5fb4d-fc35-49ae-878a-634f74997f12','c6b72828-84ca-44fa-aac3-f8f2719c41da',NULL,'codex','running','2026-12-03T08:17:45.127Z',NULL,NULL,NULL,NULL,NULL,NULL,'run',NULL,999999,'gone',0);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT,
  updated_at TEXT NOT NULL
);
INSERT INTO "settings" VALUES('leader','agent-old','2026-12-03T08:17:45.126Z');
INSERT INTO "settings" VALUES('k','v','2026-12-03T08:17:45.128Z');
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
INSERT INTO "tasks" VALUES('9b2be9f5-8222-4ad1-a6b1-f9803651fe55','legacy root','made by the pre-Alembic store','todo',0,'84f0abae-a4c7-491b-b764-c1d13ca06628',NULL,NULL,NULL,NULL,'/wt','clawboo/t','2026-12-03T08:17:45.127Z','2026-12-03T08:17:45.127Z',NULL);
INSERT INTO "tasks" VALUES('c6b72828-84ca-44fa-aac3-f8f2719c41da','legacy child','','in_progress',0,NULL,'9b2be9f5-8222-4ad1-a6b1-f9803651fe55','agent-old','codex','6eb5fb4d-fc35-49ae-878a-634f74997f12',NULL,NULL,'2026-12-03T08:17:45.127Z','2026-12-03T08:17:45.127Z',NULL);
CREATE TABLE teams (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL DEFAULT '',
  leader_agent_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
INSERT INTO "teams" VALUES('84f0abae-a4c7-491b-b764-c1d13ca06628','Old team','agent-old','2026-12-03T08:17:45.126Z','2026-12-03T08:17:45.126Z');
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
INSERT INTO "workspaces" VALUES('9dbb05e5-f058-4788-bbfd-85ba63e40baa','9b2be9f5-8222-4ad1-a6b1-f9803651fe55','/repo','clawboo/t','/wt','abc','active','2026-12-03T08:17:45.127Z','2026-12-03T08:17:45.127Z');
CREATE INDEX idx_tasks_status ON tasks(status);
CREATE INDEX idx_tasks_team ON tasks(team_id);
CREATE INDEX idx_tasks_parent ON tasks(parent_task_id);
CREATE INDEX idx_comments_task ON comments(task_id, created_at);
CREATE INDEX idx_workspaces_task ON workspaces(task_id, created_at);
CREATE INDEX idx_executions_task ON executions(task_id, started_at);
CREATE INDEX idx_executions_status ON executions(status);
CREATE INDEX idx_agents_team ON agents(team_id);
COMMIT;
