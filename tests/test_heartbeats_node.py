"""The npm-published `@tickstem/heartbeat@0.2.0` (its POST pause/resume variant) drives a real server under node."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import API_KEY
from tickstem_tui.runtime import Runtime

NODE_DIR = Path(__file__).parent / "node"
INSTALL_HINT = "cd tests/node && npm ci"


def _node() -> str:
    node = shutil.which("node")
    # Fail, not skip: a missing toolchain must not turn this contract check silently green.
    assert node is not None, "node is not installed; the npm SDK tests need Node.js 18+ (Debian package: nodejs)"
    package = NODE_DIR / "node_modules" / "@tickstem" / "heartbeat" / "package.json"
    assert package.is_file(), f"@tickstem/heartbeat is not installed in tests/node; run: {INSTALL_HINT}"
    return node


async def run_node_script(script: str, base_url: str) -> dict[str, Any]:
    env = {**os.environ, "TICKSTEM_BASE_URL": f"{base_url}/v1", "TICKSTEM_API_KEY": API_KEY}
    proc = await asyncio.create_subprocess_exec(
        _node(),
        script,
        cwd=NODE_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, f"node {script} failed:\n{stderr.decode()}"
    result: dict[str, Any] = json.loads(stdout)
    return result


async def test_published_node_sdk_create_update_pause_resume_ping_pings_delete(runtime: Runtime) -> None:
    out = await run_node_script("heartbeat_sdk.mjs", runtime.base_url)

    created = out["created"]
    assert created["id"].startswith("hb_") and re.fullmatch(r"[0-9a-f]{64}", created["token"])
    assert (created["interval_secs"], created["grace_secs"], created["status"]) == (86400, 3600, "active")
    assert (out["updated"]["name"], out["updated"]["interval_secs"]) == ("weekly backup", 604800)
    assert out["paused"]["status"] == "paused"
    assert out["resumed"]["status"] == "active" and out["resumed"]["consecutive_misses"] == 0
    assert "pingResult" not in out or out["pingResult"] is None  # ping() resolves to undefined on any 2xx
    assert out["got"]["last_pinged_at"] is not None and out["got"]["status"] == "active"
    assert [h["id"] for h in out["list"]] == [created["id"]]
    assert len(out["pings"]) == 2 and all(p["heartbeat_id"] == created["id"] for p in out["pings"])
    assert [p["while_paused"] for p in out["pings"]] == [False, True]  # newest first
    assert out["deleted"] == {"deleted": True, "id": created["id"]}
    assert out["afterDelete"] == {"name": "APIError", "statusCode": 404, "message": "heartbeat not found"}
    assert out["pingAfterDelete"]["statusCode"] == 404
