"""The registry of background job kinds: one class per kind, one interface."""

from __future__ import annotations

from typing import Callable

from app.models import Job


class Progress:
    """What a running job uses to report phase, percent and a message."""

    def __init__(self, report: Callable[..., None]) -> None:
        self._report = report

    def __call__(self, phase: str, percent: int, message: str = "", *, force: bool = False) -> None:
        self._report(phase=phase, percent=percent, message=message, force=force)


class JobKind:
    """A kind of background work. Subclasses set the class attributes and implement run()."""

    name: str = ""
    title: str = ""
    module: str | None = None  # a switched-off module refuses its jobs
    queue: str = "default"
    timeout: int = 1800
    # Words for the phases this kind reports, where the general ones (job_display.PHASE_WORDS) do not fit.
    phase_labels: dict[str, str] = {}

    def run(self, job: Job, progress: Progress) -> dict | None:
        """Do the work inside the bound account; return a small result for the job row."""
        raise NotImplementedError

    def on_failure(self, job: Job) -> None:
        """Undo side effects of a failed or vanished job (e.g. release reserved credits)."""


JOB_KINDS: dict[str, type[JobKind]] = {}


def register(cls: type[JobKind]) -> type[JobKind]:
    """Class decorator adding a job kind to the registry."""
    if not cls.name:
        raise ValueError("A job kind needs a name")
    JOB_KINDS[cls.name] = cls
    return cls


def kind_for(name: str) -> JobKind:
    """An instance of the registered kind."""
    try:
        return JOB_KINDS[name]()
    except KeyError:
        raise LookupError(f"Unknown job kind {name!r}") from None
