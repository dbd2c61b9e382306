"""The people who use the station and the archive, and who a command runs as.

A :class:`Person` is registered in the ledger (``person_registered``): a badge or staff
number (``person_id``), a name, a role (officer, archivist, approver, auditor, admin), a unit,
optionally the OS login that maps to them and labels beyond their role's clearance.

Who runs a command: an explicit ``--by`` / ``--as`` (badge number, or exact name, or login
name), else the OS user mapped to a person.  :class:`Directory` is the seam for another source
of people (LDAP): it answers ``lookup`` and ``all``; :class:`LedgerDirectory` answers from
the ledger.  A directory-backed one would answer from the directory and register a person in
the ledger when first seen, so that the chain still names everyone it refers to.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Protocol

from evidock.daemon.config import ROLES
from evidock.daemon.errors import AccessDenied, UnknownPerson


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    role: str
    unit: str | None
    os_user: str | None
    clearance: tuple[str, ...]  # labels beyond the role's
    active: bool

    @classmethod
    def from_row(cls, row: dict) -> Person:
        return cls(row["person_id"], row["name"], row["role"], row["unit"], row["os_user"],
                   tuple(x for x in (row["clearance"] or "").split(",") if x),
                   bool(row["active"]))

    def __str__(self) -> str:
        return f"{self.name} ({self.person_id}, {self.role})"


class Directory(Protocol):
    """Where people come from.  ``lookup`` takes what a user typed (badge or staff number,
    exact name, or login name) and returns the one person it names, or None; it never
    guesses between two people with the same name (it raises ``UnknownPerson``)."""

    def lookup(self, ref: str) -> Person | None: ...

    def by_login(self, login: str) -> Person | None: ...

    def all(self) -> list[Person]: ...

    def empty(self) -> bool: ...


class LedgerDirectory:
    """People as registered in the ledger (the station's own registry)."""

    def __init__(self, ledger) -> None:
        self.ledger = ledger

    def all(self) -> list[Person]:
        return [Person.from_row(r) for r in self.ledger.people()]

    def empty(self) -> bool:
        return self.ledger.people_count() == 0

    def by_login(self, login: str) -> Person | None:
        found = [p for p in self.all() if p.os_user == login]
        return found[0] if found else None

    def lookup(self, ref: str) -> Person | None:
        row = self.ledger.person(ref)
        if row is not None:
            return Person.from_row(row)
        named = [p for p in self.all() if p.name == ref]
        if len(named) > 1:
            raise UnknownPerson(f"{ref!r} names {len(named)} people",
                                hint="give the badge or staff number instead: "
                                     + ", ".join(p.person_id for p in named))
        return named[0] if named else self.by_login(ref)


def login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class People:
    """Registering people and resolving who a command runs as."""

    def __init__(self, ledger, directory: Directory | None = None) -> None:
        self.ledger = ledger
        self.directory = directory or LedgerDirectory(ledger)

    def enforced(self) -> bool:
        """Custody applies once anyone is registered.  A station upgraded from before has
        nobody: its commands keep working with free-text names until the first admin is
        registered (then for good: people are never removed from the chain)."""
        return not self.directory.empty()

    def resolve(self, ref: str | None) -> Person:
        """The registered person ``ref`` names, or (no ``ref``) the one the login maps to."""
        if ref:
            person = self.directory.lookup(ref)
            if person is None:
                raise UnknownPerson(
                    f"{ref!r} is not a registered person",
                    hint="give a badge or staff number from `evidock people list`, or ask an "
                         "admin to register them: evidock people add BADGE --name NAME --role "
                         "ROLE --unit UNIT --by ADMIN")
        else:
            login = login_name()
            person = self.directory.by_login(login)
            if person is None:
                raise UnknownPerson(
                    f"the login {login!r} is not mapped to a registered person",
                    hint="say who you are with --as BADGE (or --by), or ask an admin to map "
                         f"it: evidock people add BADGE ... --os-user {login}")
        if not person.active:
            raise UnknownPerson(f"{person} is no longer active",
                                hint="an admin can reactivate them with `evidock people add`")
        return person

    def register(self, *, person_id: str, name: str, role: str, unit: str | None,
                 os_user: str | None, clearance: list[str], by: str | None,
                 active: bool = True) -> bool:
        """Register (or change) a person.  Only an admin may; the very first person of a
        station must be an admin and registers without one."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        if self.directory.empty():
            if role != "admin":
                raise AccessDenied("the first person registered on a station must be an admin",
                                   hint="register yourself first with --role admin")
            registrar = person_id
        else:
            admin = self.resolve(by)
            if admin.role != "admin":
                raise AccessDenied(f"{admin} may not register people: only an admin may")
            registrar = admin.person_id
        values = {"person_id": person_id, "name": name, "role": role, "unit": unit,
                  "os_user": os_user or None, "clearance": ",".join(sorted(set(clearance))),
                  "active": int(active)}
        return self.ledger.register_person(values, by=registrar)

    # -- logins of the review room -----------------------------------------------------------

    def set_password(self, ref: str, password: str, *, by: str | None) -> Person:
        """Give ``ref`` a password for the review room: an admin for anyone, or a person for
        themselves.  Only the scrypt hash is kept (:mod:`.passwords`)."""
        from evidock.daemon.custody.passwords import hash_password

        target = self.resolve(ref)
        actor = self.resolve(by)
        if actor.role != "admin" and actor.person_id != target.person_id:
            raise AccessDenied(f"{actor} may not set the password of {target}: only an admin "
                               "or the person themselves may")
        self.ledger.set_credential(target.person_id, hash_password(password),
                                   by=actor.person_id)
        return target

    def authenticate(self, ref: str, password: str) -> Person | None:
        """The active person ``ref`` (badge number, exact name or login) names, if
        ``password`` is theirs; None for every other case, alike."""
        from evidock.daemon.custody.passwords import check_password

        try:
            person = self.directory.lookup(ref.strip()) if ref.strip() else None
        except UnknownPerson:
            person = None
        stored = self.ledger.credential(person.person_id) if person else None
        ok = check_password(password, stored)
        return person if ok and person is not None and person.active else None
