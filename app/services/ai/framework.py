"""One framework for every AI function: validate → prepare → build prompt → call → parse → save.

Around it: an estimate before enqueueing, a credit reservation at enqueue, settlement to the
tokens actually used on success; the jobs framework refunds the reservation on any failure.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from app import tenancy
from app.errors import DomainError, NotFound, ValidationError
from app.extensions import db
from app.models import AIModel, CreditReservation, Job
from app.services import credits
from app.services.ai import catalogue
from app.services.ai.output import OutputError, parse_json
from app.services.ai.providers import TextRequest, TextResult, provider_for, rough_tokens
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
    prompt_tokens = rough_tokens("".join(m["content"] for m in function.build_prompt(context)))
    _check_size(function, payload, model, prompt_tokens)
    tokens = prompt_tokens + min(function.expected_output_tokens(context), model.max_output_tokens)
    return function, model, catalogue.credits_for_tokens(model, tokens)


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


def run_function(job: Job, function: AIFunction, progress: Progress) -> dict:
    """The worker side: every phase of one run, ending with the output saved and the credits settled."""
    progress("INIT", 5, "Checking the model…", force=True)
    model = db.session.get(AIModel, job.payload["model_pk"])
    if model is None:
        raise DomainError("The chosen AI model was removed from the catalogue. Start the run again.")
    catalogue.check_usable(model)
    provider = provider_for(model.provider)
    payload = job.payload["input"]
    function.validate(payload)
    progress("PREP", 12, "Preparing the input…", force=True)
    context = function.prepare(payload)
    messages = function.build_prompt(context)
    request = TextRequest(messages=messages, max_tokens=model.max_output_tokens, temperature=function.temperature,
                          demo_answer=lambda: function.demo_answer(context))
    usage: list[TextResult] = []
    progress("AI_CALL", 25, f"Asking {model.name}…", force=True)
    answer = _call(provider, model, request, usage)
    progress("PARSE", 70, "Checking the answer…", force=True)
    try:
        data = _parse(function, answer, context)
    except OutputError as first:
        progress("AI_CALL", 50, "The answer was malformed; asking the model once more…", force=True)
        repair = [*messages, {"role": "assistant", "content": answer[:8000]},
                  {"role": "user", "content": f"Your answer could not be used: {first} "
                                              "Reply again with only the corrected JSON object."}]
        answer = _call(provider, model, TextRequest(messages=repair, max_tokens=request.max_tokens,
                                                    temperature=request.temperature,
                                                    demo_answer=request.demo_answer), usage)
        progress("PARSE", 75, "Checking the corrected answer…", force=True)
        try:
            data = _parse(function, answer, context)
        except OutputError as second:
            raise DomainError(f"{model.name} gave an unusable answer twice, so nothing was saved and your "
                              f"credits were returned. The problem: {second}") from None
    progress("SAVE", 85, "Saving…", force=True)
    result = function.save(data, context, job)
    # Settle last and report no more progress: the settlement locks the job row until the commit.
    tokens_in, tokens_out = sum(u.tokens_in for u in usage), sum(u.tokens_out for u in usage)
    charged = _settle(job, model, tokens_in, tokens_out)
    return {**result, "credits": charged, "tokens_in": tokens_in, "tokens_out": tokens_out,
            "model": model.name, "demo": model.provider.kind == "demo", "calls": len(usage)}


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
