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
INSERT INTO "agents" VALUES('agent-old','Old','codex','0c9a3a32-ac3f-4031-850c-8126fbc3dc8b','leader',NULL,NULL,NULL,'2026-12-03T09:06:20.152Z');
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
INSERT INTO "budgets" VALUES(1,'team','0c9a3a32-ac3f-4031-850c-8126fbc3dc8b',500,1250000,'cap','active','2026-12-03T09:06:20.153Z','2026-12-03T09:06:20.153Z');
CREATE TABLE comments (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  author_agent_id TEXT,
  author_type TEXT NOT NULL DEFAULT 'user' CHECK (author_type IN ('agent', 'user', 'system')),
  body TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
INSERT INTO "comments" VALUES('2f5c3d57-5dd3-4c89-9aae-63c3c2f05e9a','170c815b-6b0d-491b-baca-57ef8e6a0ecf',NULL,'user','first','2026-12-03T09:06:20.152Z');
INSERT INTO "comments" VALUES('30e9af57-d1c0-484b-ae3d-b4b5ae9c46b4','170c815b-6b0d-491b-baca-57ef8e6a0ecf',NULL,'user','second','2026-12-03T09:06:20.152Z');
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
INSERT INTO "executions" VALUES('8ef2d253-fa97-457a-87a0-ac9ecb8fbb27','d1bb839a-e4ff-4342-92ec-e8788a185ae0',NULL,'codex','running','2026-12-03T09:06:20.152Z',NULL,NULL,NULL,NULL,NULL,NULL,'run',NULL,999999,'gone','[[999998, "stamp"]]',0);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT,
  updated_at TEXT NOT NULL
);
INSERT INTO "settings" VALUES('leader','agent-old','2026-12-03T09:06:20.152Z');
INSERT INTO "settings" VALUES('k','v','2026-12-03T09:06:20.153Z');
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
  completed_at TEXT,
  verify_command TEXT
);
INSERT INTO "tasks" VALUES('170c815b-6b0d-491b-baca-57ef8e6a0ecf','legacy root','made by the pre-Alembic store','todo',0,'0c9a3a32-ac3f-4031-850c-8126fbc3dc8b',NULL,NULL,NULL,NULL,'/wt','clawboo/t','2026-12-03T09:06:20.152Z','2026-12-03T09:06:20.152Z',NULL,'make test');
INSERT INTO "tasks" VALUES('d1bb839a-e4ff-4342-92ec-e8788a185ae0','legacy child','','in_progress',0,NULL,'170c815b-6b0d-491b-baca-57ef8e6a0ecf','agent-old','codex','8ef2d253-fa97-457a-87a0-ac9ecb8fbb27',NULL,NULL,'2026-12-03T09:06:20.152Z','2026-12-03T09:06:20.152Z',NULL,NULL);
CREATE TABLE teams (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL DEFAULT '',
  leader_agent_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
INSERT INTO "teams" VALUES('0c9a3a32-ac3f-4031-850c-8126fbc3dc8b','Old team','agent-old','2026-12-03T09:06:20.152Z','2026-12-03T09:06:20.152Z');
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
INSERT INTO "workspaces" VALUES('3bff542f-9a2c-484e-b173-c4f05692f411','170c815b-6b0d-491b-baca-57ef8e6a0ecf','/repo','clawboo/t','/wt','abc','active','2026-12-03T09:06:20.152Z','2026-12-03T09:06:20.152Z');
CREATE INDEX idx_tasks_status ON tasks(status);
CREATE INDEX idx_tasks_team ON tasks(team_id);
CREATE INDEX idx_tasks_parent ON tasks(parent_task_id);
CREATE INDEX idx_comments_task ON comments(task_id, created_at);
CREATE INDEX idx_workspaces_task ON workspaces(task_id, created_at);
CREATE INDEX idx_executions_task ON executions(task_id, started_at);
CREATE INDEX idx_executions_status ON executions(status);
CREATE INDEX idx_agents_team ON agents(team_id);
COMMIT;
