"""Where the register cuts go, and the latency they give."""

from __future__ import annotations

from dataclasses import dataclass

from .compressor import needs_adder, plan


def popcount_depth(width: int) -> int:
    """Levels of :class:`~.popcount.Popcount` over ``width`` bits: the counter levels of
    :func:`.compressor.plan`, plus one for the final adder when it is needed; 0 for a single bit."""
    return len(plan(width)) + int(needs_adder(width))


@dataclass(frozen=True)
class PipelinePlan:
    """``register_stages``: a register cut after the encoder and after each LUT layer;
    ``adder_every``: also a cut after every N popcount adder levels and after the last one (the scores
    are then registered before the argmax); ``None`` for none."""

    register_stages: bool
    adder_every: int | None

    @classmethod
    def parse(cls, pipeline) -> "PipelinePlan":
        """``"none"`` | ``"layers"`` | N (an int >= 1, or its decimal string)."""
        if pipeline == "none":
            return cls(False, None)
        if pipeline == "layers":
            return cls(True, None)
        if isinstance(pipeline, str) and pipeline.isdigit():
            pipeline = int(pipeline)
        if isinstance(pipeline, int) and not isinstance(pipeline, bool) and pipeline >= 1:
            return cls(True, pipeline)
        raise ValueError(f"pipeline must be 'none', 'layers' or an integer N >= 1 (a cut every N adder levels), "
                         f"got {pipeline!r}")

    @property
    def name(self) -> str:
        if not self.register_stages:
            return "none"
        return "layers" if self.adder_every is None else str(self.adder_every)

    def adder_cuts(self, depth: int) -> list[int]:
        """The adder levels (1-based) followed by a register."""
        if self.adder_every is None:
            return []
        return [level for level in range(1, depth + 1) if level % self.adder_every == 0 or level == depth]

    def latency(self, num_layers: int, group_size: int) -> int:
        """Clock cycles from an input to its result (0: combinational)."""
        stages = 1 + num_layers if self.register_stages else 0
        return stages + len(self.adder_cuts(popcount_depth(group_size)))
