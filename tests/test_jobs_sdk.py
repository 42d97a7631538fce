"""The published `tickstem` Python SDK drives the jobs API of a real server, unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tickstem import APIError, CronClient, CronRegisterParams

from tests.conftest import API_KEY, RecordingEndpoint, eventually, in_thread
from tickstem_tui.runtime import Runtime


@pytest.fixture
def cron(runtime: Runtime) -> Iterator[CronClient]:
    with CronClient(API_KEY, base_url=f"{runtime.base_url}/v1") as client:
        yield client


async def test_register_trigger_and_list_executions(
    runtime: Runtime, cron: CronClient, endpoint: RecordingEndpoint
) -> None:
    job = await in_thread(
        cron.register,
        CronRegisterParams(name="nightly", schedule="0 2 * * *", endpoint=f"{endpoint.url}/hook", method="PUT"),
    )
    assert job.id.startswith("job_") and job.status == "active"
    assert job.next_run_at is not None and job.next_run_at.endswith("T02:00:00Z")

    await runtime.services.jobs.trigger(runtime.services.accounts.owner_id, job.id)
    calls = await endpoint.wait_for_calls(1)
    assert calls[0].method == "PUT" and calls[0].path == "/hook"
    assert calls[0].headers["X-Tickstem-Job-ID"] == job.id
    assert calls[0].headers["X-Tickstem-Job-Name"] == "nightly"

    async def finished() -> bool:
        runs = await in_thread(cron.executions, job.id)
        return bool(runs) and runs[0].status == "success"

    await eventually(finished)
    [run] = await in_thread(cron.executions, job.id)
    assert run.status_code == 200 and isinstance(run.duration_ms, int) and run.triggered_at.endswith("Z")


async def test_register_upserts_by_name(cron: CronClient, endpoint: RecordingEndpoint) -> None:
    first = await in_thread(cron.register, CronRegisterParams("sync", "*/5 * * * *", endpoint.url))
    second = await in_thread(cron.register, CronRegisterParams("sync", "0 * * * *", endpoint.url, timeout_secs=9))
    assert second.id == first.id
    assert (second.schedule, second.timeout_secs) == ("0 * * * *", 9)
    assert [j.id for j in await in_thread(cron.list)] == [first.id]


async def test_pause_resume_update_delete(cron: CronClient, endpoint: RecordingEndpoint) -> None:
    job = await in_thread(cron.register, CronRegisterParams("a", "*/15 * * * *", endpoint.url))
    paused = await in_thread(cron.pause, job.id)
    assert paused.status == "paused" and paused.next_run_at is None
    resumed = await in_thread(cron.resume, job.id)
    assert resumed.status == "active" and resumed.next_run_at is not None
    updated = await in_thread(cron.update, job.id, CronRegisterParams("a", "0 0 1 * *", endpoint.url))
    assert updated.schedule == "0 0 1 * *" and updated.next_run_at.endswith("-01T00:00:00Z")
    await in_thread(cron.delete, job.id)
    with pytest.raises(APIError) as err:
        await in_thread(cron.get, job.id)
    assert err.value.status == 404 and err.value.message == "job not found"


async def test_trailing_slash_base_url_and_bad_key(runtime: Runtime, endpoint: RecordingEndpoint) -> None:
    with CronClient(API_KEY, base_url=f"{runtime.base_url}/v1/") as slashed:
        await in_thread(slashed.register, CronRegisterParams("b", "* * * * *", endpoint.url))
        assert len(await in_thread(slashed.list)) == 1
    with CronClient("wrong", base_url=f"{runtime.base_url}/v1") as stranger, pytest.raises(APIError) as err:
        await in_thread(stranger.list)
    assert err.value.status == 401


async def test_invalid_cron_is_422(cron: CronClient, endpoint: RecordingEndpoint) -> None:
    with pytest.raises(APIError) as err:
        await in_thread(cron.register, CronRegisterParams("c", "61 * * * *", endpoint.url))
    assert err.value.status == 422 and "invalid cron expression" in err.value.message
