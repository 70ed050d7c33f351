"""Rules for usernames and passwords, shared by every way a user is made or signs in."""

from __future__ import annotations

import re
from functools import cache

MIN_PASSWORD_LENGTH = 8
# One maximum for creating a password and for signing in: a password that could be set can
# always be typed at the sign-in, and scrypt never hashes a megabyte.
MAX_PASSWORD_LENGTH = 128
MAX_USERNAME_LENGTH = 64
# ASCII only: no look-alikes (Cyrillic "а"), invisible characters or control bytes in review
# trails and assignment lists. A display name is the free-text field.
USERNAME_PATTERN = re.compile(r"[a-z0-9._-]+")
USERNAME_RULE = "use only ASCII letters, digits, '.', '_' and '-'"


def normalize_username(username: str) -> str:
    """Return the stored form of a username: case-folded, so `Alice` and `alice` are one."""
    return username.lower() if username.isascii() else username


def username_problems(username: str) -> list[str]:
    """Return what is wrong with a new username (an empty list when it is fine)."""
    if not username:
        return ["must not be empty"]
    if len(username) > MAX_USERNAME_LENGTH:
        return [f"must be at most {MAX_USERNAME_LENGTH} characters"]
    if not (username.isascii() and USERNAME_PATTERN.fullmatch(normalize_username(username))):
        return [USERNAME_RULE]
    return []


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships (and maintains) a list of the 30,000 most used passwords from real leaks.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common_password(password: str) -> bool:
    """Tell whether a password is, whole, one of the most used passwords."""
    return password.lower() in _common_passwords()


def password_problems(password: str, username: str) -> list[str]:
    """Return what is wrong with a new password for a user (an empty list when it is fine)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"must be at least {MIN_PASSWORD_LENGTH} characters"]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"must be at most {MAX_PASSWORD_LENGTH} characters"]
    if password.lower() == username.lower():
        return ["must not be the username"]
    if is_common_password(password):
        return ["is one of the most used passwords; choose another"]
    return []
