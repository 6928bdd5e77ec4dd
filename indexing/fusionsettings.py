"""The settings of hybrid fusion by scores (``search.scoring``; :mod:`indexing.embeddings.fusion`).

Chosen by cross-validation across query classes (one class held out at a time) on
benchmarks/search_world.py's corpus with benchmarks/fusion_tune.py; figures in
benchmarks/README.md, "Search quality on a corpus that looks like the world". Each field is the
:class:`~indexing.embeddings.fusion.FusionParams` field of the same name.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class FusionSettings(BaseModel):
    """Weights, bars and ramps of the fusion by scores (``search.fusion: scores``)."""

    model_config = {"extra": "forbid"}

    #: weight of a keyword hit that carries the whole query and of one that shares only some of
    #: its words (the vector side weighs 1)
    strong: float = Field(default=1.5, ge=0)
    weak: float = Field(default=0.8, ge=0)
    #: the best refined vector score under which the vector side is not confident ("no good match"
    #: when the keyword side is not either)
    vector_confidence: float = 0.08
    #: the refined score a neighbour the keyword side did not find needs to be a hit, and its share
    #: of the best neighbour's score
    admit: float = 0.0
    admit_ratio: float = Field(default=0.5, ge=0, le=1)
    #: cross-lingual agreement with the anchor: the gain, and the centred-cosine ramp
    agreement: float = Field(default=1.5, ge=0)
    agree_low: float = Field(default=0.4, ge=-1, le=1)
    agree_high: float = Field(default=0.6, ge=-1, le=1)
    #: title closeness without an anchor: the gain, among how many candidates
    title: float = Field(default=2.0, ge=0)
    title_depth: int = Field(default=20, ge=1, le=1000)
    #: echo: the share of a better candidate's score its near-duplicate in another language rises
    #: to (0: off, under 1: never over it), among how many candidates, and the centred-cosine ramp
    echo: float = Field(default=0.95, ge=0, lt=1)
    echo_depth: int = Field(default=20, ge=1, le=1000)
    echo_low: float = Field(default=0.35, ge=-1, le=1)
    echo_high: float = Field(default=0.6, ge=-1, le=1)
    #: echo reach: the best this many candidates also echo to those below the echo's head and to the
    #: neighbours under the admission bar, which the echo admits (0: off)
    echo_reach: int = Field(default=2, ge=0, le=1000)
    #: names across scripts: what a candidate carrying none of the query's names loses (0: off)
    names: float = Field(default=1.0, ge=0)
