"""Who is reached: the contacts, and per severity who is woken or told (and, for page,
after how long it escalates and to whom)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from stacks.config.base import Strict

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+[1-9]\d{6,14}$"  # E.164, as SNS SMS wants it
HTTPS_PATTERN = r"^https://[^\s/]+\S*$"
ContactName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
SEVERITIES = ("page", "notify")  # page wakes someone; notify is read in working hours


class Contact(Strict):
    """Someone (or a paging service) to reach, by any of email, SMS and an https webhook."""

    name: ContactName = Field(description="the name the severities use")
    email: str | None = Field(
        default=None, pattern=EMAIL_PATTERN, description="its owner confirms the subscription"
    )
    sms: str | None = Field(
        default=None, pattern=PHONE_PATTERN, description="a phone number, E.164 (`+15555550100`)"
    )
    https: str | None = Field(
        default=None, pattern=HTTPS_PATTERN, description="a paging service's SNS webhook URL"
    )

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not (self.email or self.sms or self.https):
            raise ValueError(f"contact {self.name!r} has no endpoint: give it email, sms or https")
        return self

    def endpoints(self) -> list[tuple[str, str]]:
        """(kind, endpoint) for each endpoint the contact has: email, sms, https."""
        found = [("email", self.email), ("sms", self.sms), ("https", self.https)]
        return [(kind, value) for kind, value in found if value]


class PageRoute(Strict):
    """Who is woken first, and who next if the condition lasts `escalate_after_minutes`."""

    contacts: list[ContactName] = Field(
        min_length=1,
        description="contact names woken first by page alarms and the workflows' messages",
    )
    escalate_after_minutes: int = Field(
        ge=1,
        le=12 * 60,
        description="a page alarm still in ALARM this much later (rounded up to whole alarm "
        "periods) also reaches `escalate_to`",
    )
    escalate_to: list[ContactName] = Field(
        min_length=1, description="contact names a lasting page alarm reaches"
    )


class NotifyRoute(Strict):
    """Who reads working-hours alerts; they do not escalate."""

    contacts: list[ContactName] = Field(
        min_length=1,
        description="contact names that read working-hours alerts (function errors, a slow "
        "drill); notify never escalates",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_escalation(cls, data: Any) -> Any:
        if isinstance(data, dict):
            stray = sorted(k for k in data if k.startswith("escalate"))
            if stray:
                raise ValueError(f"{', '.join(stray)}: only page escalates")
        return data


class Severities(Strict):
    """Exactly two: page wakes someone, notify is read in working hours."""

    page: PageRoute = Field(description="who page alerts wake, and who next")
    notify: NotifyRoute = Field(description="who reads notify alerts")

    @model_validator(mode="before")
    @classmethod
    def _known(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in SEVERITIES)
            if unknown:
                raise ValueError(
                    f"unknown severity {', '.join(map(repr, unknown))}: severities are "
                    "exactly page and notify"
                )
        return data


class Escalation(Strict):
    """The escalation matrix: contacts, and per severity who is reached (and, for page,
    after how long it escalates and to whom)."""

    contacts: list[Contact] = Field(
        min_length=1,
        description="everyone who may be reached: a `name` and at least one of `email`, "
        "`sms`, `https`",
    )
    severities: Severities = Field(description="who each severity reaches")
    repeat_after_minutes: int = Field(
        default=240,
        ge=15,
        le=7 * 24 * 60,
        description="a scheduled check (verification, health, DR copy monitor) that still "
        "finds the same problems sends its message again only after this long; a change in "
        "the problems is sent at once",
    )

    def contact(self, name: str) -> Contact:
        return next(c for c in self.contacts if c.name == name)

    def audiences(self) -> dict[str, list[Contact]]:
        """Who each alert topic reaches: page and notify first line, and escalation."""
        routes = self.severities
        named = {
            "page": routes.page.contacts,
            "notify": routes.notify.contacts,
            "escalation": routes.page.escalate_to,
        }
        return {audience: [self.contact(n) for n in names] for audience, names in named.items()}

    def problems(self) -> list[str]:
        """Names that do not resolve: `escalation.severities.page.contacts.0: ...`."""
        names = [c.name for c in self.contacts]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            return [f"escalation.contacts: duplicate contact names {twice}"]
        known = ", ".join(names)
        routes = self.severities
        references = {
            "page.contacts": routes.page.contacts,
            "page.escalate_to": routes.page.escalate_to,
            "notify.contacts": routes.notify.contacts,
        }
        return [
            f"escalation.severities.{field}.{index}: unknown contact {name!r} (contacts: {known})"
            for field, listed in references.items()
            for index, name in enumerate(listed)
            if name not in names
        ]
