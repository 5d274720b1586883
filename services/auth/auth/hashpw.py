"""Print a password hash for the accounts file or a stack config.

    python -m auth.hashpw                 # bcrypt ($2b$, cost 12), asks twice on a terminal
    python -m auth.hashpw --scheme argon2id
    printf '%s\n' "$PW" | python -m auth.hashpw   # from stdin when not a terminal

The password is read from the terminal (without echo) or from the first line of stdin,
never from the command line, where it would land in shell history and `ps`.
"""

from __future__ import annotations

import argparse
import getpass
import sys

import bcrypt
from argon2 import PasswordHasher


def read_password(stdin=None) -> str:
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Again: ")
        if first != second:
            raise SystemExit("passwords differ")
        return first
    line = stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def make_hash(password: str, scheme: str = "bcrypt", cost: int = 12) -> str:
    if not password:
        raise ValueError("empty password")
    if scheme == "bcrypt":
        pw = password.encode("utf-8")
        if len(pw) > 72:
            raise ValueError("bcrypt uses at most 72 bytes of a password; use --scheme argon2id")
        return bcrypt.hashpw(pw, bcrypt.gensalt(cost)).decode("ascii")
    if scheme == "argon2id":
        return PasswordHasher().hash(password)
    raise ValueError(f"unknown scheme {scheme!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth.hashpw", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scheme", choices=["bcrypt", "argon2id"], default="bcrypt")
    parser.add_argument("--cost", type=int, default=12, help="bcrypt cost (4-31)")
    args = parser.parse_args(argv)
    try:
        print(make_hash(read_password(), args.scheme, args.cost))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
