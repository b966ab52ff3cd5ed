"""One framework for every AI function: validate → prepare → build prompt → call → parse → save.

Around it: an estimate before enqueueing, a credit reservation at enqueue, settlement to the
tokens actually used on success; the jobs framework refunds the reservation on any failure.

Item-by-item batches: a function that names a list in its prepared context (`batch_key`) is run in
chunks of `items_per_call` items, each chunk through prompt → call → parse (one repair retry) → save.
A chunk whose answer is unusable fails only its own items (its savepoint is rolled back), and the
run goes on. A provider failure (after the provider's own retries) fails its chunk and every later
chunk unattempted: the provider is down, out of quota or misconfigured, so more calls would not help.
Credits: only the calls of chunks that were saved are charged (their repair call included); the calls
of failed chunks are not charged, just as a failed single-shot run is refunded in full. When every item
fails the job fails and the whole reservation is refunded. Everything a run saves commits together
with the settlement, so an unexpected error still leaves nothing half saved.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from app import tenancy
from app.errors import DomainError, NotFound, ValidationError
from app.extensions import db
from app.models import AIModel, CreditReservation, Job
from app.services.billing import credits
from app.services.ai import catalogue
from app.services.ai import settings as ai_settings
from app.services.ai.output import OutputError, parse_json
from app.services.ai.providers import ProviderError, TextRequest, TextResult, provider_for, rough_tokens
from app.services.job_kinds import JobKind, Progress, register


class AIFunction:
    """A kind of AI work. Subclasses set the attributes and implement the steps."""

    name: str = ""
    title: str = ""
    operation: str = ""  # a key of app.billing_ops.OPERATIONS
    module: str | None = None
    model_type: str = "text"
    schema: dict = {}
    max_input_chars: int = 20_000
    temperature: float = 0.3
    # Item-by-item batches: the name of a list in the prepared context, sent items_per_call at a time.
    batch_key: str | None = None
    items_per_call: int = 10

    def validate(self, payload: dict) -> None:
        """Refuse bad or oversized input before anything is reserved or called."""

    def prepare(self, payload: dict) -> dict:
        """Load whatever the prompt needs."""
        return dict(payload)

    def build_prompt(self, context: dict) -> list[dict]:
        """The chat messages."""
        raise NotImplementedError

    def expected_output_tokens(self, context: dict) -> int:
        """A generous guess of the answer's length, for the estimate."""
        return 500

    def demo_answer(self, context: dict) -> dict:
        """A deterministic, clearly labelled answer of the right shape (offline demo provider)."""
        raise NotImplementedError

    def check(self, data: dict, context: dict) -> None:
        """Checks beyond the schema (e.g. one answer per input); raise OutputError."""

    def save(self, data: dict, context: dict, job: Job) -> dict:
        """Store the (sanitized) output; return the job's result."""
        raise NotImplementedError

    def chunk_context(self, context: dict, start: int, items: list) -> dict:
        """Batch functions: the context of one chunk — its items, and the index of its first item."""
        return {**context, self.batch_key: items, "batch_start": start}

    def save_items(self, data: dict, context: dict, job: Job) -> list[dict]:
        """Batch functions: store one chunk's (sanitized) output; return one result per item, in order.

        Runs inside a savepoint; it must not change the job row (progress is written meanwhile).
        """
        raise NotImplementedError

    def summarize(self, items: list[dict], context: dict) -> dict:
        """Batch functions: extra fields for the job's result, from every item's outcome."""
        return {}


AI_FUNCTIONS: dict[str, type[AIFunction]] = {}


class AIJobKind(JobKind):
    """The job kind that runs one AI function through the framework."""

    function_name: str = ""
    timeout = 900

    def run(self, job: Job, progress: Progress) -> dict:
        return run_function(job, get_function(self.function_name), progress)


def register_function(cls: type[AIFunction]) -> type[AIFunction]:
    """Class decorator: add an AI function and its job kind (`ai.<name>`) to the registries."""
    AI_FUNCTIONS[cls.name] = cls
    register(type(f"{cls.__name__}Job", (AIJobKind,), {
        "name": job_kind_name(cls.name), "title": cls.title, "module": cls.module, "function_name": cls.name}))
    return cls


def job_kind_name(function_name: str) -> str:
    return f"ai.{function_name}"


def get_function(name: str) -> AIFunction:
    """An instance of a registered AI function."""
    try:
        return AI_FUNCTIONS[name]()
    except KeyError:
        raise NotFound(f"There is no AI function called {name!r}.") from None


def _choose_model(function: AIFunction, *, tier: str, model_pk: int | None) -> AIModel:
    model = catalogue.get_model(model_pk) if model_pk else catalogue.model_for(
        model_type=function.model_type, tier=tier)
    if model.model_type != function.model_type:
        raise ValidationError(f"{model.name} is not a {function.model_type} model.")
    catalogue.check_usable(model)
    return model


def _check_size(function: AIFunction, payload: dict, model: AIModel, prompt_tokens: int) -> None:
    size = len(json.dumps(payload, ensure_ascii=False))
    if size > function.max_input_chars:
        raise ValidationError(f"The input is too large ({size:,} characters; the limit is "
                              f"{function.max_input_chars:,}). Split it into smaller runs. Nothing was charged.")
    if prompt_tokens > model.max_input_tokens:
        raise ValidationError(f"The input is too large for {model.name} (about {prompt_tokens:,} tokens; it takes "
                              f"{model.max_input_tokens:,}). Split it into smaller runs. Nothing was charged.")


def _plan(function_name: str, payload: dict, tier: str, model_pk: int | None) -> tuple[AIFunction, AIModel, int]:
    function = get_function(function_name)
    function.validate(payload)
    model = _choose_model(function, tier=tier, model_pk=model_pk)
    context = function.prepare(payload)
    tokens = largest = 0
    for part in _parts(function, context):  # one prompt per chunk for batch functions
        prompt_tokens = rough_tokens("".join(m["content"] for m in function.build_prompt(part)))
        largest = max(largest, prompt_tokens)
        tokens += prompt_tokens + min(function.expected_output_tokens(part), model.max_output_tokens)
    _check_size(function, payload, model, largest)
    return function, model, catalogue.credits_for_tokens(model, tokens)


def _chunks(function: AIFunction, context: dict) -> list[tuple[int, list]]:
    """(index of the first item, items) for each chunk of a batch function."""
    items = list(context.get(function.batch_key) or [])
    size = max(1, int(function.items_per_call))
    return [(start, items[start:start + size]) for start in range(0, len(items), size)]


def _parts(function: AIFunction, context: dict) -> list[dict]:
    """The context of every call a run makes (not counting repairs)."""
    if not function.batch_key:
        return [context]
    return [function.chunk_context(context, start, items) for start, items in _chunks(function, context)]


def estimate(*, function: str, payload: dict, tier: str = "testing", model_pk: int | None = None) -> dict:
    """What a run would cost, shown before the user confirms (refuses what could not run)."""
    fn, model, amount = _plan(function, payload, tier, model_pk)
    summary = credits.estimate_summary(account_id=tenancy.current_account_id(), credits=amount)
    return {**summary, "model": model.name, "model_pk": model.id, "demo": model.provider.kind == "demo",
            "operation": fn.operation}


def start_function(*, function: str, payload: dict, created_by_id: int | None, tier: str = "testing",
                   model_pk: int | None = None, site_id: int | None = None) -> Job:
    """Validate, estimate, reserve the estimate and enqueue the AI function as a job."""
    fn, model, amount = _plan(function, payload, tier, model_pk)
    return _enqueue(fn, model, amount, payload=payload, created_by_id=created_by_id, site_id=site_id)


def _enqueue(fn: AIFunction, model: AIModel, amount: int, *, payload: dict, created_by_id: int | None,
                site_id: int | None) -> Job:
    from app.services.jobs import enqueue_job

    return enqueue_job(kind=job_kind_name(fn.name), payload={"model_pk": model.id, "input": payload},
                       created_by_id=created_by_id, site_id=site_id, title=fn.title,
                       reserve_credits=amount, operation=fn.operation)


def _call(provider, model: AIModel, request: TextRequest, usage: list[TextResult]) -> str:
    result = provider.complete_json(model_id=model.model_id, request=request)
    usage.append(result)
    return result.text


class Span:
    """Progress for one prompt → call → parse → save pass, within [low, high] percent."""

    def __init__(self, progress: Progress, low: float, high: float, label: str = "") -> None:
        self.progress, self.low, self.high, self.label = progress, low, high, label

    def __call__(self, phase: str, fraction: float, message: str) -> None:
        self.progress(phase, round(self.low + (self.high - self.low) * fraction), self.label + message, force=True)


def run_function(job: Job, function: AIFunction, progress: Progress) -> dict:
    """The worker side: every phase of one run, ending with the output saved and the credits settled."""
    progress("INIT", 5, "Checking the model…", force=True)
    model = db.session.get(AIModel, job.payload["model_pk"])
    if model is None:
        raise DomainError("The chosen AI model was removed from the catalogue. Start the run again.")
    catalogue.check_usable(model)
    function.limits = ai_settings.generation_limits(  # AI settings: site → account → platform
        function_temperature=function.temperature, model_max_tokens=model.max_output_tokens, site=job.site_id)
    provider = provider_for(model.provider).keep_open()  # one client (one connection pool) for every call
    try:
        return _run_with(job, function, progress, model, provider)
    finally:
        provider.close()


def _run_with(job: Job, function: AIFunction, progress: Progress, model: AIModel, provider) -> dict:
    payload = job.payload["input"]
    function.validate(payload)
    progress("PREP", 12, "Preparing the input…", force=True)
    context = function.prepare(payload)
    if function.batch_key:
        return _run_batches(job, function, progress, model, provider, context)
    usage: list[TextResult] = []
    span = Span(progress, 25, 85)
    data = ask(function, model, provider, context, usage, span)
    span("SAVE", 1, "Saving…")
    result = function.save(data, context, job)
    # Settle last and report no more progress: the settlement locks the job row until the commit.
    tokens_in, tokens_out = sum(u.tokens_in for u in usage), sum(u.tokens_out for u in usage)
    charged = _settle(job, model, tokens_in, tokens_out)
    return {**result, "credits": charged, "tokens_in": tokens_in, "tokens_out": tokens_out,
            "model": model.name, "demo": model.provider.kind == "demo", "calls": len(usage)}


def ask(function: AIFunction, model: AIModel, provider, context: dict, usage: list[TextResult],
         span: Span) -> dict:
    """Prompt → call → parse, with one repair retry; the checked data, or DomainError."""
    messages = function.build_prompt(context)
    max_tokens, temperature = getattr(function, "limits", None) or (model.max_output_tokens, function.temperature)
    request = TextRequest(messages=messages, max_tokens=max_tokens, temperature=temperature,
                          demo_answer=lambda: function.demo_answer(context))
    span("AI_CALL", 0, f"Asking {model.name}…")
    answer = _call(provider, model, request, usage)
    span("PARSE", 0.75, "Checking the answer…")
    try:
        return _parse(function, answer, context)
    except OutputError as first:
        span("AI_CALL", 0.42, "The answer was malformed; asking the model once more…")
        repair = [*messages, {"role": "assistant", "content": answer[:8000]},
                  {"role": "user", "content": f"Your answer could not be used: {first} "
                                              "Reply again with only the corrected JSON object."}]
        answer = _call(provider, model, TextRequest(messages=repair, max_tokens=request.max_tokens,
                                                    temperature=request.temperature,
                                                    demo_answer=request.demo_answer), usage)
        span("PARSE", 0.83, "Checking the corrected answer…")
        try:
            return _parse(function, answer, context)
        except OutputError as second:
            raise DomainError(f"{model.name} gave an unusable answer twice, so nothing was saved and your "
                              f"credits were returned. The problem: {second}") from None


def _run_batches(job: Job, function: AIFunction, progress: Progress, model: AIModel, provider,
                 context: dict) -> dict:
    """Chunk by chunk; per-item outcomes; only saved chunks are charged (see the module docstring)."""
    chunks = _chunks(function, context)
    total = len(chunks)
    outcomes: list[dict] = []
    billed: list[TextResult] = []  # the calls of chunks that were saved
    unbilled: list[TextResult] = []  # the calls of chunks that failed
    stopped: str | None = None  # the provider failed: later chunks are not attempted
    for number, (start, items) in enumerate(chunks):
        indexes = range(start, start + len(items))
        if stopped:
            outcomes += [_failed(i, f"Not attempted because an earlier part failed: {stopped}") for i in indexes]
            continue
        span = Span(progress, 25 + 70 * number / total, 25 + 70 * (number + 1) / total,
                     f"Part {number + 1} of {total}: " if total > 1 else "")
        part = function.chunk_context(context, start, items)
        usage: list[TextResult] = []
        try:
            data = ask(function, model, provider, part, usage, span)
            span("SAVE", 1, "Saving…")
            with db.session.begin_nested():  # a chunk that cannot be saved leaves nothing behind
                results = function.save_items(data, part, job)
            if len(results) != len(items):
                raise RuntimeError(f"{function.name}.save_items returned {len(results)} results "
                                   f"for {len(items)} items")
        except ProviderError as exc:
            stopped = error = exc.message
        except DomainError as exc:
            error = exc.message
        except OutputError as exc:
            error = f"The answer could not be saved: {exc}"
        else:
            billed += usage
            outcomes += [{"index": i, "ok": True, "error": None, "result": r} for i, r in zip(indexes, results)]
            continue
        unbilled += usage
        outcomes += [_failed(i, error) for i in indexes]
    succeeded = sum(1 for o in outcomes if o["ok"])
    if not succeeded:
        raise DomainError(_all_failed(outcomes))
    # Settle last and report no more progress: the settlement locks the job row until the commit.
    tokens_in, tokens_out = sum(u.tokens_in for u in billed), sum(u.tokens_out for u in billed)
    charged = _settle(job, model, tokens_in, tokens_out)
    return {**function.summarize(outcomes, context), "items": outcomes, "succeeded": succeeded,
            "failed": len(outcomes) - succeeded, "credits": charged, "tokens_in": tokens_in,
            "tokens_out": tokens_out, "unbilled_tokens": sum(u.tokens_in + u.tokens_out for u in unbilled),
            "model": model.name, "demo": model.provider.kind == "demo", "calls": len(billed) + len(unbilled),
            "chunks": total}


def _failed(index: int, error: str) -> dict:
    return {"index": index, "ok": False, "error": error, "result": None}


def _all_failed(outcomes: list[dict]) -> str:
    first = outcomes[0]["error"] if outcomes else "there was nothing to do."
    if len({o["error"] for o in outcomes}) <= 1 or len(outcomes) == 1:
        return first
    return f"None of the {len(outcomes)} items could be done, so nothing was saved and your credits were " \
           f"returned. The first problem: {first}"


def _parse(function: AIFunction, answer: str, context: dict) -> dict:
    data = parse_json(answer, function.schema)
    function.check(data, context)
    return data


def _settle(job: Job, model: AIModel, tokens_in: int, tokens_out: int) -> int:
    reservation = db.session.scalars(select(CreditReservation).where(
        CreditReservation.job_id == job.id, CreditReservation.status == "open")).first()
    if reservation is None:
        return 0
    actual = catalogue.credits_for_tokens(model, tokens_in + tokens_out)
    settled = credits.settle(reservation_id=reservation.id, actual=actual, model=model.model_id,
                             provider=model.provider.slug, tokens_in=tokens_in, tokens_out=tokens_out,
                             cost_usd=catalogue.cost_usd(model, tokens_in=tokens_in, tokens_out=tokens_out),
                             related=("job", job.id), commit=False)
    return settled.charged
