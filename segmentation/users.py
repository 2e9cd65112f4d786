"""The dashboard's users file: names, roles and scrypt password hashes in one JSON file (mode 0600).

Layout: {"users": {"NAME": {"role": "viewer|exporter|admin", "hash": "scrypt:..."}}}. Every write goes to
a temp file in the same directory and os.replace()s it, so a reader (a serving worker) sees the old file or
the new one, never half of one. Every problem is one InputError sentence naming the file.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from segmentation.errors import InputError

USERS_ENV = "SEGMENTATION_USERS"
ROLES = ("viewer", "exporter", "admin")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # longer is refused before hashing (scrypt's cost grows with the input)
NAME_RE = re.compile(r"[A-Za-z0-9._@-]{1,64}")
HASH_METHODS = ("scrypt:", "pbkdf2:")  # what werkzeug's check_password_hash verifies


@dataclass(frozen=True)
class User:
    """One entry of the users file."""

    name: str
    role: str
    hash: str


def users_path(explicit: str | Path | None = None) -> Path:
    """The users file: the --users argument, else $SEGMENTATION_USERS; neither is one sentence."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(USERS_ENV, "").strip()
    if env:
        return Path(env)
    raise InputError(f"No users file: pass --users FILE or set {USERS_ENV} to the users file's path.")


def configured_path() -> Path | None:
    """$SEGMENTATION_USERS as a path, or None when it is unset or empty (no login)."""
    env = os.environ.get(USERS_ENV, "").strip()
    return Path(env) if env else None


def check_name(name: str, path: Path) -> str:
    """Return name unless it breaks the naming rule (1-64 letters, digits, . _ @ -)."""
    if not NAME_RE.fullmatch(name or ""):
        raise InputError(
            f"{path}: user name {name!r} is not allowed; "
            "expected 1 to 64 letters, digits, '.', '_', '@' or '-'."
        )
    return name


def check_role(role: str, path: Path, name: str = "") -> str:
    """Return role if it is viewer, exporter or admin."""
    if role not in ROLES:
        who = f"user {name!r}: " if name else ""
        raise InputError(f"{path}: {who}role {role!r} is unknown; expected viewer, exporter or admin.")
    return role


def check_password(password: str, path: Path) -> str:
    """Return password if it has 8 to 1024 characters."""
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"{path}: the password has {len(password)} characters; expected at least {MIN_PASSWORD}."
        )
    if len(password) > MAX_PASSWORD:
        raise InputError(
            f"{path}: the password has {len(password)} characters; expected at most {MAX_PASSWORD}."
        )
    return password


def load(path: str | Path, missing_ok: bool = False) -> dict[str, User]:
    """Read and check the users file; a missing file is {} when missing_ok, else one sentence."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise InputError(
            f"{path}: users file not found; create it with `segments users add NAME --role ROLE`."
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory; expected the users file (JSON).") from None
    except PermissionError:
        raise InputError(f"{path}: cannot read the users file (permission denied).") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the users file is not UTF-8 text; expected JSON.") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the users file ({exc.strerror or exc}).") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}.") from None
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise InputError(
            f'{path}: expected a JSON object {{"users": {{NAME: {{"role": ..., "hash": ...}}}}}}.'
        )
    users: dict[str, User] = {}
    for name, entry in entries.items():
        check_name(name, path)
        if not isinstance(entry, dict) or not isinstance(entry.get("role"), str):
            raise InputError(f'{path}: user {name!r} needs an object with "role" and "hash" strings.')
        check_role(entry["role"], path, name)
        digest = entry.get("hash")
        if not isinstance(digest, str) or not digest.startswith(HASH_METHODS):
            raise InputError(f"{path}: user {name!r} has no scrypt or pbkdf2 password hash.")
        users[name] = User(name, entry["role"], digest)
    return users


def _write(path: Path, users: dict[str, User]) -> None:
    """Write users to path atomically: temp file (0600) in the same directory, fsync, os.replace."""
    ordered = sorted(users.values(), key=lambda u: u.name)
    data = {"users": {u.name: {"role": u.role, "hash": u.hash} for u in ordered}}
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except FileNotFoundError:
        raise InputError(f"{path}: the directory {directory} does not exist.") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot write the users file ({exc.strerror or exc}).") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the users file ({exc.strerror or exc}).") from None


def add(path: str | Path, name: str, role: str, password: str) -> bool:
    """Add the user, or replace its role and password; True when it replaced one."""
    path = Path(path)
    check_name(name, path)
    check_role(role, path)
    check_password(password, path)
    users = load(path, missing_ok=True)
    replaced = name in users
    users[name] = User(name, role, generate_password_hash(password, method="scrypt"))
    _write(path, users)
    return replaced


def remove(path: str | Path, name: str) -> None:
    """Remove the user; an unknown name is one sentence and the file is left as it was."""
    path = Path(path)
    users = load(path)
    if name not in users:
        raise InputError(f"{path}: no user named {name!r}; `segments users list` shows the names.")
    del users[name]
    _write(path, users)


def list_users(path: str | Path) -> list[tuple[str, str]]:
    """(name, role) of every user, by name."""
    return [(u.name, u.role) for u in sorted(load(path).values(), key=lambda u: u.name)]


@cache
def _dummy_hash() -> str:
    """A hash checked when the name is unknown, so an unknown name costs as much time as a wrong password."""
    return generate_password_hash("not-a-password-of-anyone", method="scrypt")


def verify(users: dict[str, User], name: str, password: str) -> User | None:
    """The user when name and password match, else None; unknown names cost the same hashing time."""
    if not isinstance(name, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return None
    user = users.get(name)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.hash, password) else None


# The `segments users` command group (segmentation/cli.py adds it with add_parser and runs cmd_users).


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `segments users add|list|remove` to the CLI's subcommands."""
    users = sub.add_parser("users", help="manage the dashboard's users file (login)")
    actions = users.add_subparsers(
        dest="users_command", required=True, metavar="ACTION", help="add, list or remove"
    )
    file_help = f"the users file (default: ${USERS_ENV})"
    add_user = actions.add_parser("add", help="add a user, or replace a user's role and password")
    add_user.add_argument("name", metavar="NAME", help="1-64 letters, digits, '.', '_', '@' or '-'")
    add_user.add_argument("--role", required=True, help="viewer, exporter (may export lists) or admin")
    add_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    add_user.add_argument("--users", help=file_help)
    list_cmd = actions.add_parser("list", help="list the users and their roles")
    list_cmd.add_argument("--users", help=file_help)
    remove_user = actions.add_parser("remove", help="remove a user (their sessions end at once)")
    remove_user.add_argument("name", metavar="NAME", help="the user to remove")
    remove_user.add_argument("--users", help=file_help)


def _read_password(a: argparse.Namespace, path: Path) -> str:
    """The new password: one line of stdin with --password-stdin, else typed twice at a terminal."""
    if a.password_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise InputError(f"{path}: no terminal to ask for the password on; pass --password-stdin.")
    first = getpass.getpass(f"Password for {a.name}: ")
    if getpass.getpass("Again: ") != first:
        raise InputError(f"{path}: the two passwords typed for {a.name!r} differ; nothing was changed.")
    return first


def cmd_users(a: argparse.Namespace) -> int:
    """Run `segments users add|list|remove`."""
    path = users_path(a.users)
    if a.users_command == "add":
        check_name(a.name, path)
        check_role(a.role, path)
        replaced = add(path, a.name, a.role, _read_password(a, path))
        print(f"{path}: {'replaced' if replaced else 'added'} user {a.name} ({a.role})")
    elif a.users_command == "remove":
        remove(path, a.name)
        print(f"{path}: removed user {a.name}")
    else:
        rows = list_users(path)
        if not rows:
            print(f"{path}: no users yet; add one with `segments users add NAME --role ROLE`.")
        width = max((len(name) for name, _ in rows), default=4)
        for name, role in rows:
            print(f"{name:<{width}}  {role}")
    return 0
