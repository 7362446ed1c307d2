"""Without PAPERBOY_SECRET_KEY, the Slack adapter never loads cryptography (about 6 MB of a run's memory)."""

from __future__ import annotations

import subprocess
import sys

from cryptography.fernet import Fernet

from adapters.slack.tokens import TokenSealer

_PROBE = """
import sys
import adapters.slack.bot, adapters.slack.config, adapters.slack.connection, adapters.slack.installations
from adapters.slack.tokens import parse_keys, sealer_for
assert sealer_for(parse_keys("")) is None
print("cryptography" in sys.modules)
"""


def test_the_slack_adapter_without_a_key_does_not_import_cryptography() -> None:
    shown = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )

    assert shown.stdout.strip() == "False", shown.stderr


def test_a_sealer_imports_it_when_made_and_still_refuses_a_wrong_key() -> None:
    sealed = TokenSealer([Fernet.generate_key().decode()]).seal("xoxb-1")
    other = TokenSealer([Fernet.generate_key().decode()])

    assert not other.readable(sealed)
    assert other.resealed("xoxb-plain") is not None
