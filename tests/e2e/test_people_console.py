"""`/papers me …` in the console, through the real `paperboy run --console`: a person's own digest printed "to
you", their votes as a reading list, forgetting them, bad input, and two workspaces that never meet.

The console's person is the login name (`USER`), its workspace the one of PAPERBOY_CONSOLE_CHANNEL.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.test_console import demo_store, paperboy

__all__ = ["demo_store"]


def session(folder: Path, *lines: str, user: str = "ada", channel: str = "console:local:general") -> str:
    """What a console session of `user` in `channel` printed for `lines`; it must end well."""
    result = paperboy(
        folder,
        "run",
        "--console",
        stdin="\n".join(lines) + "\n",
        env={"USER": user, "LOGNAME": user, "PAPERBOY_CONSOLE_CHANNEL": channel},
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Something went wrong" not in result.stdout, result.stderr
    return result.stdout


def test_a_person_gets_their_own_digest_printed_to_them_a_reading_list_and_is_forgotten(
    demo_store: Path,
) -> None:
    out = session(
        demo_store,
        "/papers me",
        '/papers me subscribe "gaussian splatting"',
        "/papers me topics",
        "/papers me schedule 07:30 Europe/Berlin daily papers 5",
        "/papers me digest",
        "/papers me digest",
        "/papers vote 2311.13681",
        "/papers me votes",
        "/papers me votes week",
        "/papers me cite",
        "/papers me unsubscribe 1",
        "/papers me schedule off",
        "/papers topics",
        # Bad input, each answered with a sentence.
        "/papers me schedule 25:99",
        "/papers me votes year",
        "/papers me subscribe @here <!channel> splatting",
        "/papers me frobnicate",
        # Forgetting, after a confirmation.
        "/papers me forget",
        "/papers me forget please",
        "/papers me forget confirm",
        "/papers me votes",
        "/papers me forget",
    )

    assert "/papers me subscribe <query>       add a topic to your own daily digest" in out
    assert 'Subscribed to "gaussian splatting". Your next digest comes by direct message on' in out
    assert "Your topics. " in out and '1. "gaussian splatting"' in out
    assert "Digest at 07:30 Europe/Berlin every day, up to 5 papers, 1 topic(s)." in out
    # The digest is printed as a direct message to the person, then the command's answer.
    heading = re.search(r"📰 \(to you, ada\) Your papers for \w+ \d\d \w+ \d{4}: 2 papers", out)
    assert heading is not None, out
    after = out[heading.end() :]
    assert "│ 1. Compact 3D Gaussian Splatting for Static and Dynamic Radiance Fields [2408.03822]" in after
    assert "│ 2. Compact 3D Gaussian Representation for Radiance Field [2311.13681]" in after
    assert "Sent your digest to your direct messages for " in after
    assert out.count("📰") == 1
    assert "Nothing new for you: no paper featured lately matches your topics" in out
    assert (
        "Papers you voted for (1)\n1. Compact 3D Gaussian Representation for Radiance Field [2311.13681]"
        in out
    )
    assert "Papers you voted for in the last week (1)" in out
    assert "BibTeX for the 1 paper(s) you voted for, of all time. (paperboy-votes-all-" in out
    assert "eprint        = {2311.13681}" in out
    assert "Unsubscribed from " in out and "No topics yet: without one, your digest carries" in out
    assert "Paused. Resume with /papers me schedule on." in out
    # The channel the person typed in has no topics of theirs.
    assert "Topics of this channel\nNo topics yet: this channel gets all trending papers." in out

    assert "Sorry: 25:99 is not a time of day; write HH:MM from 00:00 to 23:59, e.g. 09:00." in out
    assert "Sorry: Write /papers me votes week, month or all (the default); not 'year'." in out
    assert "Subscribed to “here channel splatting”." in out
    assert "<!channel>" not in out and "@here" not in out
    assert "I don't know /papers me 'frobnicate'. Here is what you can do:" in out

    assert (
        "This deletes your 1 topic(s), your digest schedule and your 1 vote(s) in this workspace; your votes "
        "leave the team's counts too. Write /papers me forget confirm to go on."
    ) in out
    assert (
        "Sorry: Write /papers me forget to see what would be deleted, then /papers me forget confirm." in out
    )
    assert "Done: deleted your 1 topic(s), your digest schedule and your 1 vote(s) in this workspace." in out
    assert "You have not voted for a paper yet." in out
    assert out.rstrip().endswith("Paperboy keeps nothing about you in this workspace.")


def test_a_person_in_one_workspace_never_sees_or_changes_their_life_in_another(demo_store: Path) -> None:
    lab_a, lab_b = "console:lab-a:general", "console:lab-b:general"
    session(
        demo_store,
        '/papers me subscribe "gaussian splatting"',
        "/papers me schedule 06:00 Asia/Tokyo",
        "/papers vote 2205.13147",
        "/papers me digest",
        channel=lab_a,
    )

    elsewhere = session(
        demo_store,
        "/papers me topics",
        "/papers me votes",
        "/papers me schedule",
        "/papers me unsubscribe 1",
        "/papers me forget confirm",
        '/papers me subscribe "gaussian splatting"',
        "/papers me digest",
        channel=lab_b,
    )
    assert "You have no digest of your own yet" in elsewhere
    assert "You have not voted for a paper yet." in elsewhere
    assert "Digest at 08:00 UTC on weekdays" in elsewhere and "Asia/Tokyo" not in elsewhere
    assert "Sorry: You follow no topics yet" in elsewhere
    assert "Paperboy kept nothing about you in this workspace; nothing to delete." in elsewhere
    # Lab A's digest took nothing from lab B's: both papers come here too.
    assert "📰 (to you, ada) Your papers for" in elsewhere and "2 paper(s)." in elsewhere

    back = session(
        demo_store,
        "/papers me topics",
        "/papers me votes",
        "/papers me schedule",
        "/papers me digest",
        channel=lab_a,
    )
    assert '1. "gaussian splatting"' in back
    assert "Papers you voted for (1)\n1. Matryoshka Representation Learning [2205.13147]" in back
    assert "Digest at 06:00 Asia/Tokyo on weekdays" in back
    assert "Nothing new for you" in back
