from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indexing.dedup import DedupStateError, StoryIndex, body_hash
from indexing.settings import DedupSettings, Settings

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


def _with(settings: Settings, **dedup: object) -> StoryIndex:
    """The pipeline's index with some dedup settings changed (as settings.yaml or the environment would)."""
    return StoryIndex.open(settings.state_dir / "dedup.sqlite3", settings.dedup.model_copy(update=dedup))


@pytest.fixture
def index(settings: Settings) -> StoryIndex:
    idx = StoryIndex.from_settings(settings)
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
def test_more_rewritten_copies_at_code_default_threshold(tmp_path: Path, seed: int) -> None:
    # the code defaults (3-shingles, Jaccard 0.5) keep a 10%-rewritten copy in its story
    with StoryIndex.open(tmp_path / "dedup.sqlite3", DedupSettings()) as idx:
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


def test_idempotent_and_persistent_across_reopen(settings: Settings) -> None:
    with StoryIndex.from_settings(settings) as idx:
        a = idx.assign("a", STORY, T0)
        c = idx.assign("c", OTHER_SAME_SUBJECT, None)
        assert idx.assign("a", STORY, T0) == a
        idx.save()
    assert (settings.state_dir / "dedup.sqlite3").exists()
    with StoryIndex.from_settings(settings) as idx:
        assert len(idx) == 2
        assert idx.assign("a", STORY, T0).story_id == a.story_id
        assert idx.assign("c", OTHER_SAME_SUBJECT, None).story_id == c.story_id
        # a copy arriving in a later run joins the stored story
        assert idx.assign("a2", rewrite(STORY, 0.05, seed=3), T0).story_id == a.story_id
        assert len(idx) == 3


def test_other_process_sees_same_story(settings: Settings) -> None:
    with StoryIndex.from_settings(settings) as idx:
        a = idx.assign("a", STORY, T0)
        # another process adds a copy while this index is open
        code = (
            "import sys; from indexing.dedup import StoryIndex; from indexing.settings import get_settings\n"
            "with StoryIndex.from_settings(get_settings()) as i: print(i.assign('b', sys.stdin.read(), None).story_id)"
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


def test_changed_parameters_are_refused(settings: Settings) -> None:
    StoryIndex.from_settings(settings).close()
    with pytest.raises(DedupStateError, match="shingle_size"):
        _with(settings, shingle_size=7)


# Scale: the index lives in SQLite; nothing is loaded per stored document -------------------
VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "ti", "vo", "zu") for b in
         ("ber", "cot", "dan", "fel", "gom", "hip", "jul", "kan", "lis", "mor", "nap", "pus", "rik", "sol")]


def synthetic_bodies(n: int, seed: int) -> list[str]:
    """``n`` unrelated bodies (random words: pairwise Jaccard of their shingles is ~0)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(60, 120))) for _ in range(n)]


class SqlWork:
    """How much work SQLite does for the index: virtual-machine steps, counted through
    ``set_progress_handler``. A statement that reads n rows takes at least n steps, whatever its
    SQL text or query plan, so equal counts for 10 and 260 stored documents mean the cost does
    not grow with the store."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps = 0
        real_connect = sqlite3.connect

        def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
            con = real_connect(*args, **kwargs)  # type: ignore[arg-type]
            con.set_progress_handler(self._step, 1)
            return con

        monkeypatch.setattr(sqlite3, "connect", connect)

    def _step(self) -> int:
        self.steps += 1
        return 0  # go on

    def take(self) -> int:
        out, self.steps = self.steps, 0
        return out


def test_open_reads_no_stored_documents(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = synthetic_bodies(260, seed=1)
    work = SqlWork(monkeypatch)
    opens: dict[int, int] = {}
    for stored in (10, 260):
        with StoryIndex.from_settings(settings) as idx:
            opens[len(idx)] = work.take()  # the work of opening alone
            for i in range(len(idx), stored):
                idx.assign(f"d{i}", bodies[i], T0 + timedelta(minutes=i))
        work.take()
    with StoryIndex.from_settings(settings) as idx:
        opens[len(idx)] = work.take()
        assert idx.story_of("d259") is not None  # the store is complete, not rebuilt
    assert sorted(opens) == [0, 10, 260]
    # opening a store of 10 or of 260 documents costs the same: nothing is read per document
    assert opens[10] == opens[260] < 260, opens


def test_assign_cost_does_not_grow_with_stored_documents(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = synthetic_bodies(250, seed=2)
    work = SqlWork(monkeypatch)
    with StoryIndex.from_settings(settings) as idx:
        per_assign: dict[int, tuple[int, int]] = {}
        for i, body in enumerate(bodies):
            before = idx.candidates_checked
            work.take()
            idx.assign(f"d{i}", body, T0)
            per_assign[i] = (work.take(), idx.candidates_checked - before)
        # work per assignment and candidate rows read: the same for the 11th and the 250th
        assert per_assign[10] == per_assign[249] == (per_assign[10][0], 0)
        assert sum(c for _, c in per_assign.values()) == 0  # unrelated bodies are never candidates
        # a copy of a stored body finds exactly that one candidate among 250, and joins its story
        first = idx.story_of("d17")
        work.take()
        copy = idx.assign("copy", bodies[17].replace(VOCAB[0], "changed").replace(VOCAB[1], "changed"), T0)
        copy_work = work.take()
        assert copy.story_id == first and copy.is_near_duplicate and copy.duplicate_of == "d17"
        assert idx.candidates_checked == 1
        # looking the candidate up costs about one document's worth, not a pass over the 250
        # stored documents (their band rows alone would be thousands of steps)
        assert copy_work < per_assign[249][0] + 250, (copy_work, per_assign[249][0])


def _downgrade_to_legacy_layout(path: Path) -> None:
    """What a state file of the in-memory version looked like: the same rows, no band table."""
    con = sqlite3.connect(str(path))
    with con:
        con.execute("DROP TABLE bands")
        con.execute("DELETE FROM meta WHERE key = 'lsh'")
    con.close()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(str(path))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_legacy_state_file_is_migrated_keeping_story_ids(settings: Settings) -> None:
    bodies = synthetic_bodies(30, seed=3)
    with StoryIndex.from_settings(settings) as idx:
        ids = {f"d{i}": idx.assign(f"d{i}", b, T0).story_id for i, b in enumerate(bodies)}
        ids["orig"] = idx.assign("orig", STORY, T0).story_id
        ids["exact"] = idx.assign("exact", STORY.upper(), T0).story_id
        ids["short"] = idx.assign("short", "Air raid alert in Kyiv.", T0).story_id
        path = idx.path
    _downgrade_to_legacy_layout(path)
    docs_before = _rows(path, "SELECT * FROM docs ORDER BY seq")
    stories_before = _rows(path, "SELECT * FROM stories ORDER BY story_id")

    with StoryIndex.from_settings(settings) as idx:
        assert len(idx) == len(ids)
        assert {d: idx.story_of(d) for d in ids} == ids
        # signatures stored before the upgrade are found again
        copy = idx.assign("copy", rewrite(STORY, 0.05, seed=5), T0)
        assert copy.story_id == ids["orig"] and copy.is_near_duplicate and copy.duplicate_of == "orig"
        assert idx.assign("d4", bodies[4], T0).story_id == ids["d4"]
    assert _rows(path, "SELECT * FROM docs WHERE doc_id != 'copy' ORDER BY seq") == docs_before
    assert _rows(path, "SELECT * FROM stories ORDER BY story_id") == stories_before
    # one band row per band of every stored signature (exact copies and short bodies have none)
    signed = _rows(path, "SELECT COUNT(*) FROM docs WHERE minhash IS NOT NULL")[0][0]
    assert signed == 32
    bands = _rows(path, "SELECT COUNT(DISTINCT band) FROM bands")[0][0]
    assert _rows(path, "SELECT COUNT(*) FROM bands")[0][0] == signed * bands


def test_threshold_change_rebands_and_keeps_stories(settings: Settings) -> None:
    with StoryIndex.from_settings(settings) as idx:
        a = idx.assign("a", STORY, T0)
        path = idx.path
    meta_before = _rows(path, "SELECT value FROM meta WHERE key = 'lsh'")
    with _with(settings, near_duplicate_threshold=0.8) as idx:
        assert _rows(path, "SELECT value FROM meta WHERE key = 'lsh'") != meta_before
        assert idx.story_of("a") == a.story_id
        near = idx.assign("b", rewrite(STORY, 0.01, seed=2), T0)
        assert near.story_id == a.story_id and near.similarity is not None and near.similarity >= 0.8
        # a 10%-rewritten copy is below 0.8: its own story
        assert idx.assign("c", rewrite(STORY, 0.10, seed=2), T0).story_id != a.story_id


def test_follows_bands_rebuilt_by_another_process(settings: Settings) -> None:
    with StoryIndex.from_settings(settings) as idx:
        a = idx.assign("a", STORY, T0)
        # another process (other threshold: 14 bands of 9 instead of 32 of 4) re-bands the table
        # while this index is open; this one must write and query the table's banding from then on
        StoryIndex(idx.path, num_perm=idx.num_perm, shingle_size=idx.shingle_size, threshold=0.8,
                   min_words=idx.min_words).close()
        b = idx.assign("b", rewrite(STORY, 0.01, seed=4), T0)
        assert b.story_id == a.story_id and b.is_near_duplicate
        path = idx.path
    assert _rows(path, "SELECT COUNT(DISTINCT band), COUNT(*) FROM bands") == [(14, 2 * 14)]


def test_edited_article_is_re_banded(index: StoryIndex) -> None:
    a = index.assign("a", STORY, T0)
    assert index.assign("a", OTHER_SAME_SUBJECT, T0).story_id == a.story_id  # edits keep the story
    # the old text no longer leads to "a"; the new one does
    assert index.assign("old-copy", rewrite(STORY, 0.04, seed=1), T0).story_id != a.story_id
    assert index.assign("new-copy", rewrite(OTHER_SAME_SUBJECT, 0.04, seed=1), T0).story_id == a.story_id


def test_publication_window_limits_candidates(settings: Settings) -> None:
    with _with(settings, near_duplicate_window_days=3) as idx:
        a = idx.assign("a", STORY, T0)
        assert idx.assign("days-later", rewrite(STORY, 0.04, seed=1), T0 + timedelta(days=2)).story_id == a.story_id
        assert idx.assign("undated", rewrite(STORY, 0.04, seed=2), None).story_id == a.story_id
        # naive datetimes are UTC, as elsewhere
        naive = (T0 - timedelta(days=2, hours=23)).replace(tzinfo=None)
        assert idx.assign("naive", rewrite(STORY, 0.04, seed=3), naive).story_id == a.story_id
        before = idx.candidates_checked
        late = idx.assign("a-year-later", rewrite(STORY, 0.04, seed=4), T0 + timedelta(days=365))
        # only the undated copy is in its window; it is a near copy, so the story still joins
        assert idx.candidates_checked - before == 1 and late.story_id == a.story_id
        # exact copies ignore the window: the same text is the same story
        assert idx.assign("exact-later", STORY, T0 + timedelta(days=400)).is_exact_duplicate


def test_publication_window_keeps_a_much_later_rerun_apart(settings: Settings) -> None:
    with _with(settings, near_duplicate_window_days=3) as idx:
        a = idx.assign("a", STORY, T0)
        later = idx.assign("b", rewrite(STORY, 0.04, seed=1), T0 + timedelta(days=30))
        assert later.story_id != a.story_id and not later.is_near_duplicate


def test_corrupt_state_file_is_refused(settings: Settings) -> None:
    path = settings.state_dir / "dedup.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DedupStateError, match="not a usable"):
        StoryIndex.from_settings(settings)
