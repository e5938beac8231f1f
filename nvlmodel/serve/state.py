"""What the simulation's workers plan and carry, as data: a prompt being prefilled
(:class:`PrefillJob`) and the step a worker runs next (:class:`StepPlan`). Slotted classes with
named fields, built and read in the event loop's hot path (:mod:`nvlmodel.serve.batcher`)."""

from __future__ import annotations


class PrefillJob:
    """A prompt being prefilled on a worker: request ``rid``, ``done`` tokens of its KV in the cache
    (found there or prefilled), ``left`` still to prefill."""

    __slots__ = ("rid", "done", "left")

    def __init__(self, rid: int, done: int, left: int):
        self.rid, self.done, self.left = rid, done, left


class StepPlan:
    """What a worker runs next, from ``start``: ``kind`` ``"decode"``, ``steps`` decode steps in a
    row (nothing else can change in between), or ``"mixed"``, one step that also prefills
    ``chunks`` (``(PrefillJob, tokens)`` pairs); ``decoding`` sequences whose caches held ``context``
    tokens at the start, needing ``blocks`` new KV blocks by the end."""

    __slots__ = ("kind", "start", "steps", "decoding", "context", "blocks", "chunks")

    def __init__(self, kind: str, start: float, steps: int, decoding: int, context: int, blocks: int, chunks=()):
        self.kind, self.start, self.steps, self.decoding = kind, start, steps, decoding
        self.context, self.blocks, self.chunks = context, blocks, chunks
