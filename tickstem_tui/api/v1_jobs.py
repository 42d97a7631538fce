"""Tickstem jobs API (`/v1/jobs`, `/v1/executions`), every client variant of the contract included."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tickstem_tui.api.http import (
    api_key_required,
    cached_json,
    json_response,
    query_int,
    read_json_object,
    services,
    status_map,
)
from tickstem_tui.domain.errors import DomainError, ValidationError
from tickstem_tui.domain.jobs import Execution, Job
from tickstem_tui.domain.times import rfc3339


class MalformedBody(ValidationError):
    """Not JSON at all: 400 even where rule violations are 422."""


# Jobs answer semantic errors with 422 (tsk-local and the Go SDK's tests); malformed JSON stays 400.
JOB_ERRORS: dict[type[DomainError], int] = {MalformedBody: 400, **status_map(validation=422)}


def job_to_dict(job: Job, default_retries: int) -> dict[str, Any]:
    spec = job.spec
    return {
        "id": job.id,
        "name": spec.name,
        "description": spec.description,
        "schedule": spec.schedule,
        "endpoint": spec.endpoint,
        "method": spec.method,
        # Header values often carry secrets: names only on the wire, values stay local.
        "header_names": sorted(spec.headers),
        "timeout_secs": spec.timeout_secs,
        "retries": default_retries if spec.retries is None else spec.retries,
        "status": job.status.value,
        "consecutive_failures": job.consecutive_failures,
        "next_run_at": rfc3339(job.next_run_at),
        "last_run_at": rfc3339(job.last_run_at),
        "created_at": rfc3339(job.created_at),
        "updated_at": rfc3339(job.updated_at),
    }


def execution_to_dict(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "job_id": execution.job_id,
        "status": execution.status.value,
        "status_code": execution.status_code,
        "duration_ms": execution.duration_ms,
        "error": execution.error,
        "scheduled_at": rfc3339(execution.scheduled_at),
        "triggered_at": rfc3339(execution.triggered_at),
        "started_at": rfc3339(execution.started_at),
        "finished_at": rfc3339(execution.finished_at),
        "attempts": execution.attempts,
        "manual": execution.manual,
    }


def _default_retries(request: web.Request) -> int:
    return services(request).settings.default_job_retries


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        return await read_json_object(request)
    except ValidationError as exc:
        raise MalformedBody(exc.message) from exc


@api_key_required(JOB_ERRORS)
async def register_job(request: web.Request, account_id: str) -> web.StreamResponse:
    job, created = await services(request).jobs.register(account_id, await _body(request))
    return json_response(job_to_dict(job, _default_retries(request)), status=201 if created else 200)


@api_key_required(JOB_ERRORS)
async def list_jobs(request: web.Request, account_id: str) -> web.StreamResponse:
    async def build() -> dict[str, Any]:
        jobs = await services(request).jobs.list_jobs(account_id)
        retries = _default_retries(request)
        return {"jobs": [job_to_dict(job, retries) for job in jobs], "limit": len(jobs), "offset": 0}

    return await cached_json(request, account_id, build)


@api_key_required(JOB_ERRORS)
async def get_job(request: web.Request, account_id: str) -> web.StreamResponse:
    async def build() -> dict[str, Any]:
        job = await services(request).jobs.get(account_id, request.match_info["id"])
        return job_to_dict(job, _default_retries(request))

    return await cached_json(request, account_id, build)


@api_key_required(JOB_ERRORS)
async def update_job(request: web.Request, account_id: str) -> web.StreamResponse:
    job = await services(request).jobs.update(account_id, request.match_info["id"], await _body(request))
    return json_response(job_to_dict(job, _default_retries(request)))


@api_key_required(JOB_ERRORS)
async def pause_job(request: web.Request, account_id: str) -> web.StreamResponse:
    await request.read()
    job = await services(request).jobs.pause(account_id, request.match_info["id"])
    return json_response(job_to_dict(job, _default_retries(request)))


@api_key_required(JOB_ERRORS)
async def resume_job(request: web.Request, account_id: str) -> web.StreamResponse:
    await request.read()
    job = await services(request).jobs.resume(account_id, request.match_info["id"])
    return json_response(job_to_dict(job, _default_retries(request)))


@api_key_required(JOB_ERRORS)
async def delete_job(request: web.Request, account_id: str) -> web.StreamResponse:
    job_id = request.match_info["id"]
    await services(request).jobs.delete(account_id, job_id)
    # A JSON body, not 204: the npm-published @tickstem/core 0.2.0 parses every body as JSON.
    return json_response({"deleted": True, "id": job_id})


@api_key_required(JOB_ERRORS)
async def trigger_job(request: web.Request, account_id: str) -> web.StreamResponse:
    await request.read()
    execution = await services(request).jobs.trigger(account_id, request.match_info["id"])
    return json_response({"message": "triggered", "execution_id": execution.id}, status=202)


def _paging(request: web.Request) -> tuple[int, int]:
    return (
        query_int(request, "limit", default=100, low=1, high=1000),
        query_int(request, "offset", default=0, low=0, high=10**9),
    )


@api_key_required(status_map(validation=400))
async def list_executions(request: web.Request, account_id: str) -> web.StreamResponse:
    job_id = request.query.get("job_id")
    if not job_id:
        raise ValidationError("job_id query parameter is required")
    limit, offset = _paging(request)
    executions = await services(request).jobs.executions(account_id, job_id, limit, offset)
    return json_response({"executions": [execution_to_dict(e) for e in executions], "limit": limit, "offset": offset})


@api_key_required(JOB_ERRORS)
async def legacy_job_executions(request: web.Request, account_id: str) -> web.StreamResponse:
    """Go SDK v0.0.1 and the tsk-local dashboard: a bare array."""
    limit, offset = _paging(request)
    executions = await services(request).jobs.executions(account_id, request.match_info["id"], limit, offset)
    return json_response([execution_to_dict(e) for e in executions])


def routes() -> list[web.RouteDef]:
    return [
        web.post("/v1/jobs", register_job, name="v1-jobs-register"),
        web.get("/v1/jobs", list_jobs, name="v1-jobs-list", allow_head=False),
        web.get("/v1/jobs/{id}", get_job, name="v1-job", allow_head=False),
        web.put("/v1/jobs/{id}", update_job),
        web.patch("/v1/jobs/{id}", update_job),
        web.delete("/v1/jobs/{id}", delete_job),
        web.post("/v1/jobs/{id}/pause", pause_job),
        web.post("/v1/jobs/{id}/resume", resume_job),
        web.post("/v1/jobs/{id}/trigger", trigger_job),
        web.get("/v1/jobs/{id}/executions", legacy_job_executions, allow_head=False),
        web.get("/v1/executions", list_executions, name="v1-executions", allow_head=False),
    ]
