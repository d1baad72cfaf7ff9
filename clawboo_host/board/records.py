"""The board's records as the camelCase JSON of SPEC §5 (the store returns snake_case dicts)."""

from __future__ import annotations

from .common import MICRO_PER_USD


def task_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "priority": row["priority"],
        "teamId": row["team_id"],
        "parentTaskId": row["parent_task_id"],
        "assigneeAgentId": row["assignee_agent_id"],
        "assigneeRuntime": row["assignee_runtime"],
        "worktreeRef": row["worktree_ref"],
        "branchRef": row["branch_ref"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "completedAt": row["completed_at"],
        "verifyCommand": row["verify_command"],
    }


def comment_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "taskId": row["task_id"],
        "authorAgentId": row["author_agent_id"],
        "authorType": row["author_type"],
        "body": row["body"],
        "createdAt": row["created_at"],
    }


def execution_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "taskId": row["task_id"],
        "runtimeId": row["runtime_id"],
        "status": row["status"],
        "startedAt": row["started_at"],
        "completedAt": row["completed_at"],
        "summary": row["summary"],
        "error": row["error"],
        "costUsd": row["cost_usd"],
        "inputTokens": row["input_tokens"],
        "outputTokens": row["output_tokens"],
    }


def workspace_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "taskId": row["task_id"],
        "repoPath": row["repo_path"],
        "branch": row["branch"],
        "worktreePath": row["worktree_path"],
        "status": row["status"],
    }


def team_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "leaderAgentId": row["leader_agent_id"],
        "createdAt": row["created_at"],
    }


def agent_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "runtime": row["runtime"],
        "teamId": row["team_id"],
        "role": row["role"],
        "provider": row["provider"],
        "model": row["model"],
    }


def budget_json(row: dict) -> dict:
    return {
        "scope": row["scope"],
        "scopeId": row["scope_id"],
        "limitUsd": row["limit_usd_cents"] / 100,
        "spentUsd": round(row["spent_micro_cents"] / MICRO_PER_USD, 6),
        "mode": row["mode"],
        "status": row["status"],
    }


def host_json(row: dict) -> dict:
    """A host row from :meth:`HostStore.list_hosts` (with ``alive`` and ``running``)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "url": row["url"],
        "startedAt": row["started_at"],
        "heartbeatAt": row["heartbeat_at"],
        "leaseS": row["lease_s"],
        "alive": row["alive"],
        "runningExecutions": [
            {
                "id": e["id"],
                "taskId": e["task_id"],
                "runtimeId": e["runtime_id"],
                "startedAt": e["started_at"],
            }
            for e in row["running"]
        ],
    }
