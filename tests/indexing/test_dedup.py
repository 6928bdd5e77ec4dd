from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indexing.dedup import DedupStateError, StoryIndex, body_hash
from indexing.settings import get_settings

STORY = (
    "Kyiv said on Monday that North Korean troops had been deployed to the Kursk region of Russia, where "
    "Ukrainian forces have held territory since a surprise incursion in August. The head of Ukraine's "
    "military intelligence told reporters that about eleven thousand soldiers from North Korea were now "
    "stationed near the front line and that some had already taken part in combat. NATO Secretary General "
    "Mark Rutte confirmed the deployment after a meeting with a South Korean delegation in Brussels, calling "
    "it a significant escalation and a dangerous expansion of the war. The Kremlin did not deny the reports "
    "but said that cooperation with Pyongyang was a sovereign matter for the two countries under their new "
    "partnership treaty. Officials in Seoul said they were considering sending weapons directly to Ukraine "
    "in response and summoned the Russian ambassador."
)
OTHER_SAME_SUBJECT = (
    "Russian drones struck energy infrastructure in the Kharkiv region overnight, cutting power to tens of "
    "thousands of homes, regional officials said on Tuesday. Ukraine's air force said it shot down most of "
    "the drones launched from Kursk and Belgorod, but several hit substations and a thermal power plant. "
    "Engineers were working to restore electricity. The attack came days after North Korean troops were "
    "reported in the Kursk region of Russia, and officials in Kyiv urged partners to deliver more air "
    "defence systems before winter, when the demand on the grid peaks."
)
T0 = datetime(2024, 10, 28, 12, 0, tzinfo=UTC)


def rewrite(text: str, share: float, seed: int) -> str:
    """A lightly rewritten copy: ``share`` of the words replaced."""
    rng = random.Random(seed)
    words = text.split()
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(["reportedly", "officials", "new", "large", "said", "several"])
    return " ".join(words)


@pytest.fixture
def index(data_dir: Path) -> StoryIndex:
    idx = StoryIndex.open()
    yield idx
    idx.close()


def test_body_hash_ignores_case_spacing_punctuation() -> None:
    assert body_hash("Hello,  World!\n\nSecond «paragraph».") == body_hash("hello world second paragraph")
    assert body_hash("Corée du Nord") == body_hash("Coree du nord")
    assert body_hash("a") != body_hash("b")


def test_exact_duplicate(index: StoryIndex) -> None:
    a = index.assign("a", STORY, T0)
    b = index.assign("b", STORY.upper().replace(".", " . "), T0 + timedelta(hours=1))
    assert b.story_id == a.story_id and b.is_exact_duplicate and b.duplicate_of == "a"
    assert not a.is_exact_duplicate and a.duplicate_of is None


@pytest.mark.parametrize("share", [0.02, 0.04, 0.06])
def test_rewritten_copies_share_the_story(index: StoryIndex, share: float) -> None:
    a = index.assign("orig", STORY, T0)
    b = index.assign("copy", "(AFP) " + rewrite(STORY, share, seed=7) + " Read more on our site.", T0)
    assert b.story_id == a.story_id
    assert not b.is_exact_duplicate and b.is_near_duplicate and b.duplicate_of == "orig"


@pytest.mark.parametrize("seed", range(5))
def test_more_rewritten_copies_at_code_default_threshold(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # the code defaults (3-shingles, Jaccard 0.5) keep a 10%-rewritten copy in its story
    from indexing.settings import DedupSettings, reset_settings

    monkeypatch.setenv("WARWATCH_DEDUP__NEAR_DUPLICATE_THRESHOLD", str(DedupSettings().near_duplicate_threshold))
    reset_settings()
    with StoryIndex.open() as idx:
        a = idx.assign("orig", STORY, T0)
        assert idx.assign("copy", rewrite(STORY, 0.10, seed=seed), T0).story_id == a.story_id
        assert idx.assign("other", OTHER_SAME_SUBJECT, T0).story_id != a.story_id


def test_truncated_syndicated_copy(index: StoryIndex) -> None:
    a = index.assign("full", STORY, T0)
    words = STORY.split()
    b = index.assign("teaser", " ".join(words[: int(len(words) * 0.7)]), T0)
    assert b.story_id == a.story_id


def test_different_stories_on_the_same_subject_stay_apart(index: StoryIndex) -> None:
    a = index.assign("a", STORY, T0)
    b = index.assign("b", OTHER_SAME_SUBJECT, T0)
    assert a.story_id != b.story_id
    assert not b.is_near_duplicate and b.duplicate_of is None


def test_earliest_published_copy_is_canonical_and_story_id_is_stable(index: StoryIndex) -> None:
    late = index.assign("late", STORY, T0 + timedelta(hours=5))
    early = index.assign("early", rewrite(STORY, 0.05, seed=1), T0)
    assert early.story_id == late.story_id  # the id does not move
    assert early.canonical_doc_id == "early" and early.duplicate_of is None
    again = index.assign("late", STORY, T0 + timedelta(hours=5))
    assert again.canonical_doc_id == "early" and again.duplicate_of == "early" and again.is_near_duplicate


def test_idempotent_and_persistent_across_reopen(data_dir: Path) -> None:
    with StoryIndex.open() as idx:
        a = idx.assign("a", STORY, T0)
        c = idx.assign("c", OTHER_SAME_SUBJECT, None)
        assert idx.assign("a", STORY, T0) == a
        idx.save()
    assert (get_settings().state_dir / "dedup.sqlite3").exists()
    with StoryIndex.open() as idx:
        assert len(idx) == 2
        assert idx.assign("a", STORY, T0).story_id == a.story_id
        assert idx.assign("c", OTHER_SAME_SUBJECT, None).story_id == c.story_id
        # a copy arriving in a later run joins the stored story
        assert idx.assign("a2", rewrite(STORY, 0.05, seed=3), T0).story_id == a.story_id
        assert len(idx) == 3


def test_other_process_sees_same_story(data_dir: Path) -> None:
    with StoryIndex.open() as idx:
        a = idx.assign("a", STORY, T0)
        # another process adds a copy while this index is open
        code = (
            "import sys; from indexing.dedup import StoryIndex\n"
            "with StoryIndex.open() as i: print(i.assign('b', sys.stdin.read(), None).story_id)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], input=rewrite(STORY, 0.05, seed=9), capture_output=True,
            text=True, check=False, cwd=Path(__file__).resolve().parents[2],
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == a.story_id
        # and this process sees that copy: an exact duplicate of it joins too
        c = idx.assign("c", rewrite(STORY, 0.05, seed=9), None)
        assert c.story_id == a.story_id and c.is_exact_duplicate and c.duplicate_of == "b"


def test_short_bodies_only_exact(index: StoryIndex) -> None:
    a = index.assign("a", "Air raid alert in Kyiv.", T0)
    b = index.assign("b", "Air raid alert in Kharkiv.", T0)
    c = index.assign("c", "Air raid alert in Kyiv!", T0)
    assert a.story_id != b.story_id and c.story_id == a.story_id and c.is_exact_duplicate


def test_changed_parameters_are_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    StoryIndex.open().close()
    monkeypatch.setenv("WARWATCH_DEDUP__SHINGLE_SIZE", "7")
    from indexing.settings import reset_settings

    reset_settings()
    with pytest.raises(DedupStateError, match="shingle_size"):
        StoryIndex.open()
