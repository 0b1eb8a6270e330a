"""Progress of a NEB run on stderr: optimiser steps of the hops in flight, hops done, hops per hour.

A uMLIP-NEB hop takes minutes to hours on a CPU, so a bar over hops alone sits at "0/2 hops"
for all that time: :meth:`HopProgress.step` also shows the steps of the hops in flight (with
the protocol's most steps, an upper bound of what is left, and an estimate from the step
rate). The bar is the CLI layer's one tqdm factory (:func:`litraj_data.cli.progress.progress_bar`).
"""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from litraj_data.cli.progress import progress_bar

#: Seconds between two redraws driven by steps (a step can take milliseconds on a GPU).
REDRAW_S = 0.5


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


class HopProgress:
    """A ``progress`` callback for :func:`~.harness.run_hops` drawing a tqdm bar on stderr.

    ``run_hops`` calls :meth:`start` with the number of hops to run (and those resumed from
    the folder), :meth:`step` after every optimiser step of a hop in flight (in-process runs),
    then the instance with every finished record.

    Parameters
    ----------
    desc : str
        Bar label (model, structure).
    stream : file, optional
        Where the bar goes (default stderr: stdout is reserved for ``--json``).
    disable : bool
        No bar (records are still counted).
    max_steps : int, optional
        Most optimiser steps one hop may take under the protocol (end points, band stages,
        retries): shown as the bound of the step count, and used for the time estimate.
    """

    def __init__(self, desc: str = "hops", stream: TextIO | None = None, disable: bool = False,
                 max_steps: int | None = None) -> None:
        self.desc = desc
        self.stream = stream
        self.disable = disable
        self.max_steps = max_steps
        self.bar: Any = None
        self.done = self.converged = self.failed = 0
        self.in_flight: dict[str, int] = {}
        self.steps_total = 0
        self.t0 = self._drawn = time.perf_counter()

    def start(self, total: int, skipped: int = 0) -> None:
        """Open the bar over ``total`` hops (``skipped`` were finished by an earlier run)."""
        self.t0 = time.perf_counter()
        self.close()
        self.bar = progress_bar(total, self.desc, unit="hop", disable=self.disable, stream=self.stream)
        if skipped:
            self.bar.write(f"{self.desc}: {skipped} hops already done in the output folder (resumed)",
                           file=self.stream or sys.stderr)

    def _postfix(self) -> dict[str, str]:
        elapsed = time.perf_counter() - self.t0
        post = {"converged": f"{self.converged}/{self.done}", "failed": str(self.failed)}
        if self.in_flight:
            most = max(self.in_flight.values())
            bound = f"/<={self.max_steps}" if self.max_steps else ""
            post["neb_step"] = f"{most}{bound}" + (f" ({len(self.in_flight)} hops)" if len(self.in_flight) > 1 else "")
            rate = self.steps_total / elapsed if elapsed > 0 else 0.0
            if self.max_steps and rate > 0:
                # every hop in flight advances one step per round: the slowest bound is the hop's
                per_hop = rate / len(self.in_flight)
                post["hop_eta<="] = _duration(max(0, self.max_steps - most) / per_hop)
        if self.done:
            post["hops_per_h"] = f"{3600 * self.done / elapsed:.0f}" if elapsed > 0 else "-"
        return post

    def step(self, edge_id: str, steps: int) -> None:
        """A hop in flight took its ``steps``-th optimiser step (redrawn at most every :data:`REDRAW_S`)."""
        if self.bar is None:
            self.start(0)
        self.in_flight[edge_id] = steps
        self.steps_total += 1
        now = time.perf_counter()
        if now - self._drawn >= REDRAW_S:
            self._drawn = now
            self.bar.set_postfix(self._postfix(), refresh=True)

    def __call__(self, record: dict[str, Any]) -> None:
        """A hop finished: count it (converged, failed) and advance the bar."""
        self.done += 1
        self.converged += bool(record.get("error") is None and record.get("converged"))
        self.failed += record.get("error") is not None
        self.in_flight.pop(record.get("edge_id"), None)
        if self.bar is None:
            self.start(0)
        self.bar.set_postfix(self._postfix(), refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        """Close the bar (leaving its last line on the terminal)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
