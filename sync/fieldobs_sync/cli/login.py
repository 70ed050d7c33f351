"""`fieldobs-sync login`: get a token; the password never goes on the command line."""

# An argument would end up in the shell's history and in every user's view of the process
# list. The password comes from a prompt (no echo), from $FIELDOBS_PASSWORD (for scripts
# and CI secrets) or, with --password-stdin, from the first line of standard input.

from __future__ import annotations

import argparse
import os
from typing import Any

from fieldobs_sync import config
from fieldobs_sync.cli.context import ERROR, OK, Context
from fieldobs_sync.client import ApiClient

PASSWORD_ENV = "FIELDOBS_PASSWORD"  # noqa: S105 (a variable name, not a password)


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `login` command to the CLI's subparsers."""
    p = sub.add_parser(
        "login",
        parents=[common],
        help="get a token and remember the server",
        description=(
            "Log in and remember the server and the token (never the password). The password "
            f"is asked for without echo, or read from ${PASSWORD_ENV}, or with "
            "--password-stdin from the first line of standard input."
        ),
    )
    p.add_argument("url", help="server base URL, e.g. http://127.0.0.1:5000")
    p.add_argument("user")
    # Accepted only to refuse it with an explanation: older scripts passed it here.
    p.add_argument("password", nargs="?", help=argparse.SUPPRESS)
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def read_password(args: argparse.Namespace, ctx: Context) -> str:
    """Return the password from stdin, the environment or the prompt, in that order."""
    if args.password_stdin:
        password = ctx.stdin.readline().rstrip("\r\n")
        if not password:
            raise ValueError("--password-stdin: standard input held no password")
        return password
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    return ctx.prompt(f"Password for {args.user} at {args.url}: ")


def login(args: argparse.Namespace, ctx: Context) -> int:
    """Log in and save the token."""
    if args.password is not None:
        print(
            "error: a password on the command line ends up in shell history and the process"
            f" list; leave it out to be asked for it, or use ${PASSWORD_ENV} or"
            " --password-stdin",
            file=ctx.out,
        )
        return ERROR
    client = ApiClient(args.url)  # A bad URL fails before the user types anything.
    password = read_password(args, ctx)
    token = client.login(args.user, password)
    config.save(ctx.home, config.Config(client.base_url, args.user, token, client.role))
    print(
        f"logged in to {client.base_url} as {args.user} ({client.role or 'role unknown'})",
        file=ctx.out,
    )
    return OK
