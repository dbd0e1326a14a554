"""How guessable a configured secret is: an estimate, not a list of known-bad values.

A length rule alone let a 32-character secret of one repeated letter through. zxcvbn
(Dropbox's estimator, kept up on PyPI) models how secrets are really guessed (repeats,
sequences, keyboard walks, dictionary words and their l33t forms, dates) and falls back
to brute force for whatever matches none of them, so ``"x" * 48`` scores about 10^3
guesses, ``"password" * 4`` about 10^1 and a random 32-character token about 10^28-10^32.
Its brute-force model counts only ten guesses a character, so it underrates random
strings: the bar below is set where every random token of 32 characters (hex or
URL-safe base64) clears it with a margin, measured over 1,000 of each (lowest 10^28.1).
"""

from __future__ import annotations

# ≈ 80 bits by zxcvbn's (pessimistic) count; `openssl rand -hex 32` scores ~10^60.
MIN_GUESSES_LOG10 = 24.0
# zxcvbn's matching grows faster than linearly; a longer secret is judged by its start,
# which only under-estimates it (characters after it add guesses, never remove them).
_MAX_EXAMINED = 256


def guesses_log10(secret: str) -> float:
    """log10 of the guesses an attacker who knows how people pick secrets would need."""
    examined = secret[:_MAX_EXAMINED]
    if not examined:
        return 0.0
    # Imported here: its word lists take ~14 MB and 30 ms, and only production's start-up
    # check asks (every worker and CLI command imports the settings).
    from zxcvbn import zxcvbn

    return float(zxcvbn(examined, max_length=len(examined))["guesses_log10"])


def is_strong(secret: str) -> bool:
    return guesses_log10(secret) >= MIN_GUESSES_LOG10
