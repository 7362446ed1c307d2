"""Discord's limits, and text fitted inside them: clipped, escaped, on one line, with safe links."""

from __future__ import annotations

from urllib.parse import urlsplit

import discord

from bot.domain import Paper

# Discord's documented limits (platform-rules.md, "Embeds").
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
URL_LIMIT = 2048
BUTTON_URL_LIMIT = 512
THREAD_NAME_LIMIT = 100
# Head-room under the total, because Discord may count a few characters differently from us.
TOTAL_BUDGET = EMBED_TOTAL_LIMIT - 200

HF_YELLOW = 0xFFD21E
PAUSED_ORANGE = 0xE67E22
NEUTRAL_GREY = 0x99AAB5

CARD_SUMMARY_CHARS = 1500
DIGEST_SUMMARY_CHARS = 700
LIST_SUMMARY_STEPS = (220, 140, 80, 0)
LIST_TITLE_STEPS = (200, 120, 70)
MAX_LIST_BUTTONS = 20
MAX_ITEMS = 25  # Discord: five rows of five components


def text_units(text: str) -> int:
    """Length as Discord may count it (UTF-16 code units), never less than the number of code points."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Cut text to at most `limit` UTF-16 units, marking a cut with an ellipsis; white space runs are kept."""
    if text_units(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    for char in text:
        size = text_units(char)
        if used + size > limit - 1:
            break
        out.append(char)
        used += size
    cut = "".join(out).rstrip()
    # A cut right after an escaping backslash would escape the ellipsis; drop the lone backslash.
    if cut.endswith("\\") and not cut.endswith("\\\\"):
        cut = cut[:-1]
    return cut + "…"


def one_line(text: str) -> str:
    """Collapse white space (titles and abstracts arrive with line breaks)."""
    return " ".join(text.split())


def md(text: str) -> str:
    """Escape Discord markdown in text that comes from outside (titles, authors, abstracts, topics)."""
    return discord.utils.escape_markdown(text, ignore_links=False)


def safe_url(url: str | None, limit: int = URL_LIMIT) -> str | None:
    """An http(s) URL Discord will accept, or None (a bad URL makes Discord reject the whole message)."""
    if not url:
        return None
    url = url.strip()
    if any(ch.isspace() for ch in url) or len(url) > limit:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url


def link(label: str, url: str | None) -> str | None:
    """A masked markdown link, with the characters that would end it early percent-encoded."""
    good = safe_url(url)
    if good is None:
        return None
    return f"[{label}]({good.replace('(', '%28').replace(')', '%29')})"


def code_repo_url(paper: Paper) -> str | None:
    """The paper's code repository as a URL (Hugging Face sometimes gives it without a scheme)."""
    repo = paper.github_repo
    if repo and not repo.startswith(("http://", "https://")) and "." in repo.split("/", 1)[0]:
        repo = "https://" + repo
    return safe_url(repo)


def paper_links(paper: Paper) -> str:
    """arXiv, PDF, Hugging Face, code and project links as one line."""
    parts = [
        link("arXiv", paper.abs_url),
        link("PDF", paper.pdf_url),
        link("Hugging Face", paper.hf_url),
        link("Code", code_repo_url(paper)),
        link("Project page", paper.project_page),
    ]
    return clip(" · ".join(p for p in parts if p), FIELD_VALUE_LIMIT)


def summary_text(paper: Paper) -> str:
    """The AI summary, or the abstract."""
    return one_line(paper.ai_summary or paper.abstract or "")


def embed_units(embed: discord.Embed) -> int:
    """The characters an embed counts against the 6000 total (UTF-16 units)."""
    data = embed.to_dict()
    total = text_units(data.get("title", "")) + text_units(data.get("description", ""))
    for item in data.get("fields", []):
        total += text_units(item["name"]) + text_units(item["value"])
    total += text_units(data.get("footer", {}).get("text", ""))
    total += text_units(data.get("author", {}).get("name", ""))
    return total
