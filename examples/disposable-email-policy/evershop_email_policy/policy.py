"""What the policy decides, without the service: which domains are refused,
and how an address is normalised."""

from __future__ import annotations

from collections.abc import Iterable

# A few well-known throwaway-mail services; EMAIL_POLICY_BLOCKED_DOMAINS adds more.
DISPOSABLE_DOMAINS = frozenset(
    {
        "10minutemail.com",
        "dispostable.com",
        "getnada.com",
        "guerrillamail.com",
        "mailinator.com",
        "maildrop.cc",
        "sharklasers.com",
        "temp-mail.org",
        "trashmail.com",
        "yopmail.com",
    }
)


def domains(text: str) -> tuple[str, ...]:
    """A setting's comma-separated domains, lower case (the Setting's type)."""
    found = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    for domain in found:
        if "@" in domain or "." not in domain:
            raise ValueError(f"{domain!r} is not a domain")
    return found


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


def is_disposable(email: str, extra: Iterable[str] = ()) -> bool:
    """Whether the address is at a disposable domain, or a subdomain of one."""
    domain = domain_of(email)
    blocked = DISPOSABLE_DOMAINS | {d.lower() for d in extra}
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocked for i in range(len(parts) - 1))


def normalise(email: str, normalised_domains: Iterable[str]) -> str:
    """The address as stored: at one of ``normalised_domains`` (where the
    mail provider ignores them), the local part lower case and without its
    ``+tag``; at any other domain, as it was (its owner's server decides what
    the local part means)."""
    local, _, domain = email.rpartition("@")
    if domain.lower() not in {d.lower() for d in normalised_domains}:
        return email
    untagged = local.split("+", 1)[0]
    return f"{(untagged or local).lower()}@{domain.lower()}"
