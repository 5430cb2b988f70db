"""Step 4: structured output into a pydantic object with ``with_structured_output``.

The API's only ``tool_choice`` is "auto", so ``ChatPowerTokens`` asks for the schema's
tool call in the prompt and parses the call's arguments into the class (or the JSON in
the text, when a model answers in text). ``include_raw=True`` keeps the message too, so
its reasoning can be shown beside the object.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .context import Context, StepFailed

__all__ = ["Incident", "run"]

TICKET = (
    'Support ticket from "Ada Lovelace": her nightly batch job failed with error code 1302 '
    "after 3 attempts. The client retried each time. Severity: high."
)


class Incident(BaseModel):
    """An incident reported about an API integration."""

    customer: str = Field(description="Who reported the incident")
    error_code: int = Field(description="The business error code the API returned")
    attempts: int = Field(description="How many attempts were made")
    retried: bool = Field(description="Whether the client retried the request")
    severity: Literal["low", "medium", "high"] = Field(description="How severe it is")


def run(ctx: Context) -> None:
    console = ctx.console
    extractor = ctx.chat_model().with_structured_output(Incident, include_raw=True)
    console.label("schema", "Incident(customer, error_code, attempts, retried, severity)")
    console.label("text", TICKET)
    with console.progress(f"asking {ctx.model} to extract an Incident"):
        result = extractor.invoke(f"Extract the incident from this ticket.\n\n{TICKET}")
    reasoning = result["raw"].additional_kwargs.get("reasoning_content", "")
    if reasoning:
        console.label("thinking", console.style(reasoning, "dim", "italic"), "dim", "magenta")
    if result["parsing_error"] is not None:
        raise StepFailed(f"the answer did not fit Incident: {result['parsing_error']}")
    incident: Incident = result["parsed"]
    console.label("result", repr(incident), "bold", "green")
    console.note(f"a pydantic object: incident.severity == {incident.severity!r}")
