from datetime import date

from bot.domain import Paper
from bot.services.ranking import rank_trending, trending_score

TODAY = date(2026, 11, 26)


def test_chat_votes_and_upvotes_lift_and_age_sinks() -> None:
    assert trending_score(10, 0, 0) > trending_score(10, 0, 3)
    assert trending_score(10, 1, 0) > trending_score(10, 0, 0)
    assert trending_score(10, 1, 0) == trending_score(13, 0, 0)


def test_exact_ties_are_ordered_deterministically_newer_id_first() -> None:
    papers = [
        Paper(arxiv_id=i, title=i, hf_upvotes=5, featured_on=TODAY) for i in ("2401.00001", "2411.00002")
    ]
    ranked = rank_trending(papers, {}, TODAY)
    assert [s.paper.arxiv_id for s in ranked] == ["2411.00002", "2401.00001"]
    assert [s.paper.arxiv_id for s in rank_trending(reversed(papers), {}, TODAY)] == [
        "2411.00002",
        "2401.00001",
    ]


def test_a_chat_vote_can_overtake_hugging_face_upvotes() -> None:
    papers = [
        Paper(arxiv_id="2411.00001", title="a", hf_upvotes=6, featured_on=TODAY),
        Paper(arxiv_id="2411.00002", title="b", hf_upvotes=4, featured_on=TODAY),
    ]
    ranked = rank_trending(papers, {"2411.00002": 1}, TODAY)
    assert ranked[0].paper.arxiv_id == "2411.00002"
    assert ranked[0].chat_votes == 1
