"""Build the shipped demo data set from the seed papers, in Hugging Face's `/api/daily_papers` item shape.

Run once from the project root when the seed changes, and commit the output:

    .venv/bin/python -m tests.tools.build_demo [--seed ../shared/data/seed-papers.jsonl]

It writes `adapters/sources/demo/daily_papers_demo.json`. Titles, authors, abstracts and dates come from the
seed (arXiv metadata, public domain). Upvotes, comment counts and the ids Hugging Face gives authors and
discussions are synthetic but deterministic: the same seed always gives the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_SEED = Path(__file__).resolve().parents[3] / "shared" / "data" / "seed-papers.jsonl"
OUTPUT = Path(__file__).resolve().parents[2] / "adapters" / "sources" / "demo" / "daily_papers_demo.json"

# Well-known papers get a clear lead so the demo's trending list starts with something recognisable.
BOOSTED_UPVOTES = {
    "2205.13147": 250,  # Matryoshka Representation Learning
    "2501.00663": 190,  # Titans: Learning to Memorize at Test Time
    "2412.08821": 170,  # Large Concept Models
    "1506.03134": 150,  # Pointer Networks
    "2402.14776": 135,  # 2D Matryoshka Sentence Embeddings
}
MAX_SYNTHETIC_UPVOTES = 120
_GITHUB_REPO = re.compile(r"https?://github\.com/[\w.\-]+/[\w\-]+(?:\.[\w\-]+)*")


def _stable_int(text: str) -> int:
    # sha256 rather than hash(): Python salts str hashes per process, and the file must be reproducible.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def synthetic_upvotes(arxiv_id: str) -> int:
    """Deterministic upvotes for a demo paper: a boosted value for a few famous papers, else 0..120."""
    if arxiv_id in BOOSTED_UPVOTES:
        return BOOSTED_UPVOTES[arxiv_id]
    return _stable_int("upvotes:" + arxiv_id) % (MAX_SYNTHETIC_UPVOTES + 1)


def _object_id(*parts: str) -> str:
    # Hugging Face ids look like 24 hex digits (MongoDB ObjectIds); these are derived, not real.
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:24]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def published_of(seed: dict[str, Any]) -> datetime:
    """The arXiv first-version instant: the seed's date when known, else the first day of the id's yymm."""
    if seed.get("published"):
        day = date.fromisoformat(seed["published"])
    else:
        yymm = seed["arxiv_id"].split(".")[0]
        # New-style ids start in 0704 (April 2007), so every two-digit year is 20yy.
        day = date(2000 + int(yymm[:2]), int(yymm[2:4]), 1)
    return datetime(day.year, day.month, day.day, 17, 0, tzinfo=UTC)


def github_repo_of(abstract: str) -> str | None:
    """The code repository an abstract names itself (a real link, not a guess), or None."""
    match = _GITHUB_REPO.search(abstract)
    return match.group(0).rstrip(".") if match else None


def demo_item(seed: dict[str, Any], position: int) -> dict[str, Any]:
    """One seed paper as a `/api/daily_papers` item (see shared/reference/hf-daily-papers-item.json)."""
    arxiv_id = seed["arxiv_id"]
    featured = date.fromisoformat(seed["featured_on"])
    # Spread submissions over the morning (UTC), in page order, as a real day looks.
    submitted = datetime(featured.year, featured.month, featured.day, 3, 0, tzinfo=UTC) + timedelta(
        minutes=7 * position, milliseconds=_stable_int("ms:" + arxiv_id) % 1000
    )
    published = published_of(seed)
    # In real data the top-level publishedAt is in local time and matches neither date: keep that trap.
    top_published = published - timedelta(hours=5)
    media: list[str] = []
    paper: dict[str, Any] = {
        "id": arxiv_id,
        "authors": [
            {"_id": _object_id("author", arxiv_id, str(i)), "name": name, "hidden": False}
            for i, name in enumerate(seed["authors"])
        ],
        "mediaUrls": media,
        "publishedAt": _iso(published),
        "submittedOnDailyAt": _iso(submitted),
        "title": seed["title"],
        "summary": seed["abstract"],
        "upvotes": synthetic_upvotes(arxiv_id),
        "discussionId": _object_id("discussion", arxiv_id),
    }
    repo = github_repo_of(seed["abstract"])
    if repo is not None:
        paper["githubRepo"] = repo
    return {
        "paper": paper,
        "publishedAt": _iso(top_published),
        "title": seed["title"],
        "summary": seed["abstract"],
        "mediaUrls": media,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png",
        "numComments": _stable_int("comments:" + arxiv_id) % 4,
        "isAuthorParticipating": False,
    }


def build(seed_path: Path) -> list[dict[str, Any]]:
    """Read the seed JSON lines and return the demo page, in the seed's order."""
    items: list[dict[str, Any]] = []
    with seed_path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                items.append(demo_item(json.loads(line), len(items)))
    return items


def main(argv: list[str] | None = None) -> None:
    """Write the demo file from the seed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED, help="seed-papers.jsonl to read")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="JSON file to write")
    args = parser.parse_args(argv)
    items = build(args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(items)} items to {args.output}")


if __name__ == "__main__":
    main()
