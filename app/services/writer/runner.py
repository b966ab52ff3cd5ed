"""Writing a batch of tasks: estimate, start (tasks claimed with the job), and the parallel worker side.

Model calls of a batch run in parallel, up to the provider's configured concurrency (AI_CONCURRENCY, default
4; AI_CONCURRENCY_BY_PROVIDER per provider slug). Worker threads only call the model and check the answer;
they never touch the database. The job's own thread saves each article as its answer arrives, in a savepoint,
once per task (the content table allows one article per task), and settles the credits last: only the calls
of saved articles are charged. A provider failure stops the calls not yet made.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, DomainError, NotFound, ValidationError
from app.extensions import db
from app.models import AIModel, AIProvider, Job
from app.models.planner import Task
from app.models.writer import Content
from app.services.ai import catalogue, framework
from app.services.ai import settings as ai_settings
from app.services.ai.output import OutputError, clean_text, parse_json, sanitize_html
from app.services.ai.providers import ProviderError, TextRequest, TextResult, provider_for
from app.services.job_kinds import Progress, register
from app.services.planner.ideas import parse_ids
from app.services.writer import content as content_service
from app.services.writer import sections, text
from app.services.writer.generation import FUNCTION, ContentGeneration, chosen_task_ids
from app.services.writer.status import settings_for

TIERS = ("testing", "live")
WRITABLE = ("queued", "failed")


@dataclass
class Answer:
    """What one worker thread got for one task: the checked data, or why not."""

    data: dict | None = None
    error: str | None = None
    usage: list[TextResult] = field(default_factory=list)


def concurrency_for(provider_slug: str) -> int:
    """How many model calls of one batch may run at once for a provider."""
    config = current_app.config
    return max(1, int(config.get("AI_CONCURRENCY_BY_PROVIDER", {}).get(provider_slug)
                      or config.get("AI_CONCURRENCY", 4)))


# --- Starting ----------------------------------------------------------------------------------

def _tier(tier: str) -> str:
    if tier not in TIERS:
        raise ValidationError("Choose the Testing or the Live model.", field="tier")
    return tier


def _split(task_ids: list, *, lock: bool) -> tuple[list[Task], list[tuple[str, str]]]:
    """The chosen tasks that can be written now, and (title, reason) for the others."""
    ids = chosen_task_ids(task_ids)
    stmt = select(Task).where(Task.id.in_(ids)).order_by(Task.id)
    # Locking makes a double click wait for the first request and then see its tasks claimed.
    tasks = list(db.session.scalars(stmt.with_for_update() if lock else stmt))
    if len(tasks) != len(ids):
        db.session.rollback()
        raise NotFound("One or more of the chosen tasks do not exist or you do not have access to them.")
    written = set(db.session.scalars(select(Content.task_id).where(Content.task_id.in_(ids))))
    writable, skipped = [], []
    for task in tasks:
        if task.id in written:
            skipped.append((task.title, "already has an article"))
        elif task.status not in WRITABLE:
            skipped.append((task.title, "is already being written"))
        else:
            writable.append(task)
    return writable, skipped


def estimate_generation(*, task_ids: list, tier: str = "testing") -> dict:
    """What writing the chosen tasks would cost, with the tasks that would be skipped and why."""
    writable, skipped = _split(task_ids, lock=False)
    if not writable:
        raise Conflict("None of the chosen tasks can be written now: " + "; ".join(
            f"“{t[:60]}” {r}" for t, r in skipped[:5]) + ".")
    estimate = framework.estimate(function=FUNCTION, payload={"task_ids": [t.id for t in writable]},
                                  tier=_tier(tier))
    calls = sum(sections.calls_for(t.target_words, t.outline) for t in writable)
    return {**estimate, "tasks": writable, "skipped": skipped, "calls": calls}


def start_generation(*, task_ids: list, tier: str = "testing", created_by_id: int | None) -> tuple[Job, list]:
    """Claim the writable tasks, reserve the estimate and enqueue the writing job; (job, skipped)."""
    writable, skipped = _split(task_ids, lock=True)
    if not writable:
        db.session.rollback()
        raise Conflict("None of the chosen tasks can be written now: " + "; ".join(
            f"“{t[:60]}” {r}" for t, r in skipped[:5]) + ". Nothing was charged.")
    for task in writable:
        task.status, task.error = "in_progress", None
    try:
        # Commits the claims together with the job row and the reservation (or rolls all of it back).
        job = framework.start_function(function=FUNCTION, payload={"task_ids": [t.id for t in writable]},
                                       tier=_tier(tier), created_by_id=created_by_id, site_id=writable[0].site_id)
    except Exception:
        db.session.rollback()
        raise
    return job, skipped


def get_run(job_id: int) -> Job:
    """A writing job of the bound account, or NotFound."""
    job = db.session.scalars(select(Job).where(Job.id == job_id)).first()
    if job is None or job.kind != framework.job_kind_name(FUNCTION):
        raise NotFound("That writing run does not exist.")
    return job


# --- The worker side -----------------------------------------------------------------------------

def _ask(provider, model_id: str, function: ContentGeneration, part: dict, steps: list[sections.Step],
         max_tokens: int, temperature: float, stopped: list[str]) -> Answer:
    """Each call of one article → parse → check, with one repair call each; runs in a worker thread and
    touches no database."""
    answer, answers = Answer(), []
    if stopped:  # the provider is down, out of quota or misconfigured: more calls would not help
        answer.error = f"Not attempted because the AI provider failed on another article of this run: {stopped[0]}"
        return answer
    try:
        for number, step in enumerate(steps, start=1):
            where = f" (part {number} of {len(steps)})" if len(steps) > 1 else ""
            request = TextRequest(messages=step.messages, max_tokens=max_tokens, temperature=temperature,
                                  demo_answer=step.demo)
            reply = provider.complete_json(model_id=model_id, request=request)
            answer.usage.append(reply)
            try:
                answers.append(_checked(step, reply.text))
                continue
            except OutputError as first:
                repair = [*step.messages, {"role": "assistant", "content": reply.text[:8000]},
                          {"role": "user", "content": f"Your answer could not be used: {first} "
                                                      "Reply again with only the corrected JSON object."}]
            reply = provider.complete_json(model_id=model_id, request=TextRequest(
                messages=repair, max_tokens=max_tokens, temperature=temperature, demo_answer=step.demo))
            answer.usage.append(reply)
            try:
                answers.append(_checked(step, reply.text))
            except OutputError as second:
                answer.error = f"The model gave an unusable answer twice{where}, so nothing was saved for this " \
                               f"task and it was not charged. The problem: {second}"
                return answer
        data = sections.assemble(answers)
        if len(steps) > 1:
            function.check(data, part)  # the parts together: length and headings of the whole article
        answer.data = data
    except OutputError as exc:
        answer.error = f"The parts of the article did not add up, so nothing was saved and it was not charged: {exc}"
    except ProviderError as exc:
        stopped.append(exc.message)
        answer.error = exc.message
    except Exception as exc:  # a bug must fail one article, not leave the batch hanging
        answer.error = f"Unexpected error ({type(exc).__name__}): {str(exc)[:300]}"
    return answer


def _checked(step: sections.Step, reply: str) -> dict:
    data = parse_json(reply, step.schema)
    step.check(data)
    return data


def _snapshot(row: AIProvider) -> AIProvider:
    """A detached copy of the provider's settings for worker threads (they must not load from the session)."""
    copy = AIProvider()
    for column in AIProvider.__table__.columns:
        setattr(copy, column.key, getattr(row, column.key))
    return copy


def _save(task_item: dict, data: dict, usage: list[TextResult], model: AIModel, job: Job,
          approve: bool) -> dict:
    """Store one article for its task (call inside a savepoint): the unique task_id makes it exactly once."""
    task = db.session.get(Task, task_item["id"])  # loaded by prepare(); in_progress tasks cannot be deleted
    if task is None:
        raise OutputError("the task was deleted while its article was being written.")
    body = sanitize_html(data["body_html"])
    title = clean_text(data["title"])[:300]
    article = Content(
        site_id=task.site_id, sector_id=task.sector_id, task_id=task.id, cluster_id=task.cluster_id,
        source="generated", title=title, body_html=body, meta_title=clean_text(data["meta_title"])[:60],
        meta_description=clean_text(data["meta_description"])[:160],
        slug=content_service.unique_slug(task.site_id, clean_text(data.get("slug") or "") or title),
        excerpt=clean_text(data.get("excerpt") or "")[:1000], primary_keyword=task.primary_keyword,
        secondary_keywords=[k for k in task.keywords or [] if k != task.primary_keyword],
        content_type=task.content_type, structure=task.structure, word_count=text.word_count(body),
        target_words=task.target_words, outline=text.headings(body), author_profile_id=task.author_profile_id,
        strategy_id=task.strategy_id, model_used=model.name, tokens_in=sum(u.tokens_in for u in usage),
        tokens_out=sum(u.tokens_out for u in usage), status="approved" if approve else "draft", job_id=job.id,
        version=1)
    db.session.add(article)
    db.session.flush()  # the id, or IntegrityError when the task already has an article
    content_service.add_version(article, reason="generation", user_id=job.created_by_id,
                                note=f"Written by {model.name}", first=True)
    task.status, task.error = "completed", None
    return {"task_id": task.id, "content_id": article.id, "title": title, "words": article.word_count}


def _slug_clash(exc: IntegrityError) -> bool:
    """Whether the insert hit the site's unique slug (not the one-article-per-task key)."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) == "uq_content_site_slug"


def _fail_task(task_id: int, reason: str) -> None:
    task = db.session.get(Task, task_id)
    if task is not None and task.status == "in_progress":
        task.status, task.error = "failed", reason[:2000]


def run_generation(job: Job, progress: Progress) -> dict:
    """Write every task of the job: parallel model calls, one save per task, settle for the saved ones."""
    function = ContentGeneration()
    progress("INIT", 5, "Checking the model…", force=True)
    model = db.session.get(AIModel, job.payload["model_pk"])
    if model is None:
        raise DomainError("The chosen AI model was removed from the catalogue. Start the run again.")
    catalogue.check_usable(model)
    max_tokens, temperature = ai_settings.generation_limits(
        function_temperature=function.temperature, model_max_tokens=model.max_output_tokens, site=job.site_id)
    provider = provider_for(_snapshot(model.provider)).keep_open()  # one connection pool for the whole batch
    try:
        return _write_all(job, progress, function, model, provider, max_tokens, temperature)
    finally:
        provider.close()


def _write_all(job: Job, progress: Progress, function: ContentGeneration, model: AIModel, provider,
               max_tokens: int, temperature: float) -> dict:
    progress("PREP", 12, "Preparing the tasks…", force=True)
    context = function.prepare(job.payload["input"])
    items = context["tasks"]
    approve = settings_for(job.site_id).auto_approve if job.site_id else False
    total, billed, outcomes, futures = len(items), [], {}, {}
    stopped: list[str] = []  # the first provider failure's message (list.append is thread-safe)
    workers = min(concurrency_for(model.provider.slug), max(1, total))
    progress("AI_CALL", 25, f"Writing {total} article(s), {workers} at a time…", force=True)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"writer-job-{job.id}") as pool:
        # Each call starts as soon as its prompt is built, so preparing the others overlaps the model's latency.
        for index, item in enumerate(items):
            if item.get("missing"):
                outcomes[index] = {"index": index, "ok": False, "result": None,
                                   "error": "The task was deleted before it was written."}
                continue
            part = function.chunk_context(context, index, [item])
            futures[pool.submit(_ask, provider, model.model_id, function, part, sections.steps(function, part),
                                max_tokens, temperature, stopped)] = index
        for future in as_completed(futures):
            index = futures[future]
            answer, item = future.result(), items[index]
            error = answer.error
            for attempt in (1, 2) if error is None else ():
                try:
                    with db.session.begin_nested():
                        result = _save(item, answer.data, answer.usage, model, job, approve)
                except IntegrityError as exc:
                    if attempt == 1 and _slug_clash(exc):
                        continue  # another run committed this slug after it was chosen; the next free one now
                    error = ("The article could not be saved: another article of this site took its slug meanwhile."
                             if _slug_clash(exc) else
                             "The article could not be saved: the task already has an article (written by another run).")
                except OutputError as exc:
                    error = f"The article could not be saved: {exc}"
                else:
                    billed += answer.usage
                    outcomes[index] = {"index": index, "ok": True, "error": None, "result": result}
                break
            if error is not None:
                _fail_task(item["id"], error)
                outcomes[index] = {"index": index, "ok": False, "error": error, "result": None}
            done = len(outcomes)
            ok = sum(1 for o in outcomes.values() if o["ok"])
            # Throttled by the reporter (about once a second), so progress costs no time per article.
            progress("AI_CALL", 25 + round(70 * done / max(1, total)),
                     f"Written {ok} of {total} article(s){f'; {done - ok} failed' if done - ok else ''}…")
    return _finish(job, model, items, [outcomes[i] for i in range(total)], billed)


def _finish(job: Job, model: AIModel, items: list[dict], outcomes: list[dict], billed: list[TextResult]) -> dict:
    succeeded = sum(1 for o in outcomes if o["ok"])
    rows = [{"task_id": item["id"], "title": item["title"], "ok": o["ok"], "error": o["error"],
             "content_id": (o["result"] or {}).get("content_id")} for item, o in zip(items, outcomes)]
    if not succeeded:
        db.session.commit()  # keep each task's reason; the job then fails and its reservation is refunded
        first = outcomes[0]["error"] if outcomes else "there was nothing to write."
        raise DomainError(first if len(outcomes) == 1 else
                          f"None of the {len(outcomes)} articles could be written, so nothing was saved and your "
                          f"credits were returned. The first problem: {first}")
    tokens_in, tokens_out = sum(u.tokens_in for u in billed), sum(u.tokens_out for u in billed)
    # Settle last and report no more progress: the settlement locks the job row until the commit.
    charged = framework._settle(job, model, tokens_in, tokens_out)
    failed = len(outcomes) - succeeded
    summary = f"Wrote {succeeded} article(s)." + (f" {failed} failed and were not charged." if failed else "")
    return {"summary": summary, "items": rows, "succeeded": succeeded, "failed": failed, "credits": charged,
            "tokens_in": tokens_in, "tokens_out": tokens_out, "model": model.name,
            "demo": model.provider.kind == "demo", "calls": len(billed)}


@register
class ContentGenerationJob(framework.AIJobKind):
    """Replaces the framework's default sequential job kind for this function with the parallel runner."""

    name = framework.job_kind_name(FUNCTION)
    title = ContentGeneration.title
    module = "writer"
    function_name = FUNCTION
    timeout = 3600  # up to MAX_TASKS articles; each call is bounded by the provider's own timeout

    def run(self, job: Job, progress: Progress) -> dict:
        return run_generation(job, progress)

    def on_failure(self, job: Job) -> None:
        """Tasks the job claimed but did not finish: failed with the job's reason (or queued again if cancelled)."""
        # The outcome was written on another connection: read it afresh, not from the session's copy.
        row = db.session.scalars(select(Job).where(Job.id == job.id)
                                 .execution_options(populate_existing=True)).first()
        cancelled = row is not None and row.status == "cancelled"
        reason = (row.error if row is not None else None) or "The writing job did not finish."
        ids = parse_ids(list((job.payload or {}).get("input", {}).get("task_ids") or []), field="task_ids",
                        label="task")
        for task in db.session.scalars(select(Task).where(Task.id.in_(ids), Task.status == "in_progress")):
            task.status, task.error = ("queued", None) if cancelled else ("failed", reason[:2000])
