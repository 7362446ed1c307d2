"""The in-memory matrix of paper vectors: centered cosine keeps papers close to everything ("hubs") from crowding
out the paper a query means, and the mean it centers on follows every addition, replacement and removal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from storage.vectors.semantic import missing_extra
from tests.conftest import skip_without_semantic_extra

if TYPE_CHECKING:  # numpy comes with the semantic extra, which these tests skip without
    from storage.vectors.index import VectorMatrix

DIMENSIONS = 8
# Every test here needs numpy: CI runs them by this marker once the semantic extra is installed.
pytestmark = pytest.mark.semantic


@pytest.fixture(autouse=True)
def _needs_extra() -> None:
    skip_without_semantic_extra(missing_extra())


def unit(vector: Any) -> Any:
    import numpy as np

    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def axis(number: int, scale: float = 1.0) -> Any:
    import numpy as np

    vector = np.zeros(DIMENSIONS, dtype=np.float32)
    vector[number] = scale
    return vector


def vector_of(matrix: VectorMatrix, arxiv_id: str) -> Any:
    """A paper's vector, which the matrix must hold."""
    vector = matrix.vector(arxiv_id)
    assert vector is not None, arxiv_id
    return vector


def collection() -> tuple[VectorMatrix, Any]:
    """Twenty papers about the collection's common theme (axis 0, each with a little of its own), one hub that
    is nothing but the theme, and one paper about a specific subject (axis 1) as well as the theme."""
    import numpy as np

    from storage.vectors.index import VectorMatrix

    matrix = VectorMatrix()
    ids = [f"2401.{n:05d}" for n in range(1, 21)]
    vectors = np.stack([unit(axis(0) + axis(2 + n % 6, 0.3)) for n in range(20)])
    matrix.upsert(ids, ["h"] * 20, vectors)
    matrix.upsert(
        ["2401.09998", "2401.09999"], ["h", "h"], np.stack([unit(axis(0)), unit(axis(0, 0.3) + axis(1))])
    )
    query = unit(axis(0, 0.9) + axis(1, 0.45))
    return matrix, query


def test_plain_cosine_puts_the_hub_first_and_centered_cosine_the_specific_paper() -> None:
    matrix, query = collection()
    assert matrix.top(query, 1)[0][0] == "2401.09998"
    assert matrix.top(query, 1, centered=True)[0][0] == "2401.09999"


def test_centered_cosine_is_the_cosine_after_subtracting_the_mean() -> None:
    import numpy as np

    matrix, query = collection()
    mean = matrix.mean()
    assert mean is not None
    found = dict(matrix.top(query, 30, centered=True))
    for arxiv_id, score in found.items():
        expected = float(unit(vector_of(matrix, arxiv_id) - mean) @ unit(query - mean))
        assert score == pytest.approx(expected, abs=1e-4)
    assert len(found) == 22
    assert np.isfinite(list(found.values())).all()


def test_restricted_centered_search_ranks_only_the_given_papers() -> None:
    matrix, query = collection()
    found = matrix.top(query, 5, restrict_to=["2401.00001", "2401.09998"], centered=True)
    assert sorted(arxiv_id for arxiv_id, _ in found) == ["2401.00001", "2401.09998"]


def test_the_mean_follows_additions_replacements_and_removals() -> None:
    import numpy as np

    from storage.vectors.index import VectorMatrix

    matrix = VectorMatrix()
    assert matrix.mean() is None
    matrix.upsert(["a", "b", "c"], ["1", "1", "1"], np.stack([axis(0), axis(1), axis(2)]))
    matrix.upsert(["b"], ["2"], np.stack([axis(3)]))  # b's text changed: its old vector leaves the mean
    matrix.remove(["a"])
    live = np.stack([axis(3), axis(2)])
    mean = matrix.mean()
    assert mean is not None and np.allclose(mean, live.mean(axis=0))
    matrix.remove(["b", "c"])
    assert matrix.mean() is None


def test_a_corrupt_vector_is_skipped_and_spoils_no_score() -> None:
    import numpy as np

    matrix, query = collection()
    broken = np.full(DIMENSIONS, np.nan, dtype=np.float32)
    assert (
        matrix.upsert(["2401.07777", "2401.08888"], ["h", "h"], np.stack([broken, np.zeros(DIMENSIONS)])) == 0
    )
    assert matrix.vector("2401.07777") is None
    found = matrix.top(query, 30, centered=True)
    assert len(found) == 22
    assert np.isfinite([score for _, score in found]).all()


def test_vectors_read_back_from_float16_are_made_unit_length_and_scores_stay_cosines() -> None:
    import numpy as np

    from storage.vectors.index import VectorMatrix, from_bytes, to_bytes

    matrix = VectorMatrix()
    rng = np.random.default_rng(7)
    # Three nearly identical papers: centering leaves little but rounding, which must not leave [-1, 1].
    base = unit(rng.standard_normal(DIMENSIONS))
    vectors = [from_bytes(to_bytes(unit(base + 1e-3 * rng.standard_normal(DIMENSIONS)))) for _ in range(3)]
    matrix.upsert(["a", "b", "c"], ["1", "1", "1"], np.stack(vectors))
    assert all(abs(float(np.linalg.norm(vector_of(matrix, i))) - 1.0) < 1e-6 for i in ("a", "b", "c"))
    scores = [score for _, score in matrix.top(base, 3, centered=True)]
    assert all(-1.0 <= score <= 1.0 for score in scores)


def test_one_or_two_papers_rank_by_plain_cosine() -> None:
    import numpy as np

    from storage.vectors.index import VectorMatrix

    matrix = VectorMatrix()
    matrix.upsert(["a", "b"], ["1", "1"], np.stack([axis(0), axis(1)]))
    query = unit(axis(0, 0.8) + axis(1, 0.6))
    assert matrix.top(query, 2, centered=True) == matrix.top(query, 2)


def test_centered_scores_follow_a_change_of_the_vectors() -> None:
    import numpy as np

    matrix, query = collection()
    matrix.top(query, 5, centered=True)  # the rows' centered lengths are worked out and kept
    matrix.upsert(
        ["2401.09999"], ["h2"], np.stack([unit(axis(0))])
    )  # the specific paper is now the theme itself
    matrix.upsert(["2401.05555"], ["h"], np.stack([unit(axis(1))]))
    mean = matrix.mean()
    assert mean is not None
    for arxiv_id, score in matrix.top(query, 30, centered=True):
        expected = float(unit(vector_of(matrix, arxiv_id) - mean) @ unit(query - mean))
        assert score == pytest.approx(expected, abs=1e-4)
    assert matrix.top(query, 1, centered=True)[0][0] == "2401.05555"
