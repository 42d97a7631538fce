"""Jobs: every cron job with its schedule in words, next and last run; the selected job's executions below."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType

from tickstem_tui.domain.jobs import Execution, Job, JobStatus
from tickstem_tui.services.scheduler import next_fire
from tickstem_tui.tui import format as fmt
from tickstem_tui.tui.model import Delta, JobItem
from tickstem_tui.tui.screens.base import HISTORY_PAGE, EntityScreen
from tickstem_tui.tui.widgets.forms import (
    Field,
    JobForm,
    format_headers,
    number_or_text,
    optional_number,
    parse_headers,
)
from tickstem_tui.tui.widgets.virtual_table import Cell, Column, Styled

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


class JobsScreen(EntityScreen[JobItem, Execution]):
    MODE = "jobs"
    NOUN = "job"
    HISTORY_NOUN = "executions"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "run", "Run now")]
    COLUMNS = (
        Column("name", "Name", max_width=28),
        Column("schedule", "Schedule", max_width=36),
        Column("cron", "Cron", max_width=16),
        Column("next", "Next run", min_width=10, max_width=14),
        Column("last", "Last run", min_width=10, max_width=22),
        Column("duration", "Duration", align="right", min_width=8),
        Column("status", "Status", min_width=7),
    )
    HISTORY_COLUMNS = (
        Column("when", "Triggered (UTC)", width=19),
        Column("status", "Status", min_width=7),
        Column("code", "HTTP", align="right", min_width=4),
        Column("duration", "Duration", align="right", min_width=8),
        Column("attempts", "Tries", align="right", min_width=5),
        Column("trigger", "By", min_width=9),
        Column("error", "Error", max_width=70),
    )

    def items(self) -> Mapping[str, JobItem]:
        return self.console.model.jobs

    def name_of(self, item: JobItem) -> str:
        return item.job.name

    def changed_ids(self, delta: Delta) -> tuple[set[str], set[str], set[str]]:
        return delta.jobs, delta.removed_jobs, delta.runs

    def cells(self, item: JobItem, now: datetime) -> list[Cell]:
        job = item.job
        last = item.last
        if job.status is JobStatus.PAUSED:
            next_text = "paused"
        else:
            upcoming = job.next_run_at
            if upcoming is None or upcoming <= now:
                upcoming = next_fire(job, now)
            next_text = fmt.until(upcoming, now)
        if last is None:
            last_cell: Cell = Styled("never", "muted")
            duration = fmt.DASH
        else:
            when = fmt.ago(last.at, now, never="") if last.status != "running" else ""
            last_cell = Styled(f"{last.status} {when}".strip(), fmt.tone(last.status))
            duration = fmt.duration_ms(last.duration_ms)
        return [
            job.name,
            fmt.describe_schedule(job.spec.schedule),
            job.spec.schedule,
            next_text,
            last_cell,
            duration,
            Styled(job.status.value, fmt.tone(job.status.value)),
        ]

    async def fetch_history(self, entity_id: str, offset: int) -> list[Execution]:
        return await self.services.jobs.executions(self.account_id, entity_id, HISTORY_PAGE, offset)

    def history_cells(self, record: Execution, now: datetime) -> list[Cell]:
        status = record.status.value
        return [
            fmt.clock(record.triggered_at),
            Styled(status, fmt.tone(status)),
            str(record.status_code) if record.status_code is not None else fmt.DASH,
            fmt.duration_ms(record.duration_ms) if record.finished_at else fmt.DASH,
            str(record.attempts),
            "manual" if record.manual else "schedule",
            fmt.one_line(record.error),
        ]

    # -- details -----------------------------------------------------------------------------------
    def show_details(self, entity_id: str, item: JobItem) -> None:
        job = item.job
        spec = job.spec
        now = self.now()
        self.details(
            f"Job “{job.name}”",
            [
                ("ID", job.id),
                ("Status", f"{job.status.value} ({job.consecutive_failures} failed in a row)"),
                ("Schedule", f"{spec.schedule} — {fmt.describe_schedule(spec.schedule)} (UTC)"),
                ("Next runs", "\n".join(fmt.next_runs(spec.schedule, now, 5))),
                ("Endpoint", f"{spec.method} {spec.endpoint}"),
                ("Headers", format_headers(spec.headers) or fmt.DASH),
                ("Timeout", f"{spec.timeout_secs} s"),
                ("Retries", fmt.DASH if spec.retries is None else str(spec.retries)),
                ("Description", spec.description or fmt.DASH),
                ("Last run", fmt.clock(job.last_run_at)),
                ("Created", fmt.clock(job.created_at)),
                ("Updated", fmt.clock(job.updated_at)),
            ],
        )

    def show_history_details(self, record: Execution) -> None:
        self.details(
            f"Execution {record.id}",
            [
                ("Status", record.status.value),
                ("HTTP status", fmt.DASH if record.status_code is None else str(record.status_code)),
                ("Duration", fmt.duration_ms(record.duration_ms)),
                ("Attempts", str(record.attempts)),
                ("Triggered", f"{fmt.clock(record.triggered_at)} ({'manual' if record.manual else 'schedule'})"),
                ("Scheduled for", fmt.clock(record.scheduled_at)),
                ("Started", fmt.clock(record.started_at)),
                ("Finished", fmt.clock(record.finished_at)),
                ("Error", record.error or fmt.DASH),
            ],
        )

    # -- keys --------------------------------------------------------------------------------------
    def action_run(self) -> None:
        if (chosen := self.require_selected()) is None:
            return
        job_id, item = chosen
        self.act(lambda: self.services.jobs.trigger(self.account_id, job_id), f"Running “{item.job.name}” now")

    def action_pause(self) -> None:
        if (chosen := self.require_selected()) is None:
            return
        job_id, item = chosen
        jobs = self.services.jobs
        if item.job.status is JobStatus.PAUSED:
            self.act(lambda: jobs.resume(self.account_id, job_id), f"Resumed “{item.job.name}”")
        else:
            self.act(lambda: jobs.pause(self.account_id, job_id), f"Paused “{item.job.name}”")

    async def delete(self, entity_id: str) -> None:
        await self.services.jobs.delete(self.account_id, entity_id)

    def action_new(self) -> None:
        self._open_form(None)

    def action_edit(self) -> None:
        if (chosen := self.require_selected()) is not None:
            self._open_form(chosen[1].job)

    def _open_form(self, job: Job | None) -> None:
        spec = job.spec if job is not None else None
        fields = [
            Field("name", "Name", spec.name if spec else "", "nightly-backup"),
            Field("schedule", "Schedule", spec.schedule if spec else "", "0 2 * * *  (UTC)"),
            Field("endpoint", "Endpoint", spec.endpoint if spec else "", "https://example.com/hooks/backup"),
            Field(
                "method",
                "Method",
                spec.method if spec else "POST",
                kind="select",
                options=tuple((method, method) for method in METHODS),
            ),
            Field("timeout_secs", "Timeout (s)", str(spec.timeout_secs) if spec else "30"),
            Field(
                "retries",
                "Retries",
                "" if spec is None or spec.retries is None else str(spec.retries),
                "empty: the server default",
            ),
            Field(
                "headers",
                "Headers",
                format_headers(spec.headers) if spec else "",
                kind="area",
                hint="Name: value, one a line",
            ),
            Field("description", "Description", spec.description if spec else ""),
        ]

        async def submit(values: dict[str, str]) -> str:
            body: dict[str, object] = {
                "name": values["name"],
                "schedule": values["schedule"],
                "endpoint": values["endpoint"],
                "method": values["method"],
                "timeout_secs": number_or_text(values["timeout_secs"]),
                "retries": optional_number(values["retries"]),
                "headers": parse_headers(values["headers"]),
                "description": values["description"],
            }
            if job is None:
                saved, created = await self.services.jobs.register(self.account_id, body)
                return f"{'Created' if created else 'Updated existing'} job “{saved.name}”"
            saved = await self.services.jobs.update(self.account_id, job.id, body)
            return f"Saved job “{saved.name}”"

        title = "New job" if job is None else f"Edit job “{job.name}”"
        self.app.push_screen(JobForm(title, fields, submit, now=self.now, blink=self.console.cursor_blink))
