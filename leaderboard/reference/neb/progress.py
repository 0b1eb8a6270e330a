"""Progress of a NEB run on stderr: hops done, converged so far, hops per hour (tqdm)."""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class HopProgress:
    """A ``progress`` callback for :func:`~.harness.run_hops` drawing a tqdm bar on stderr.

    ``run_hops`` calls :meth:`start` with the number of hops to run (and those resumed from
    the folder), then the instance with every new record.

    Parameters
    ----------
    desc : str
        Bar label (model, structure).
    stream : file, optional
        Where the bar goes (stderr: stdout is reserved for ``--json``).
    disable : bool
        No bar (records are still counted).
    """

    def __init__(self, desc: str = "hops", stream: TextIO | None = None, disable: bool = False) -> None:
        self.desc = desc
        self.stream = stream or sys.stderr
        self.disable = disable
        self.bar: Any = None
        self.done = self.converged = self.failed = 0
        self.t0 = time.perf_counter()

    def start(self, total: int, skipped: int = 0) -> None:
        from tqdm import tqdm

        self.t0 = time.perf_counter()
        self.close()
        self.bar = tqdm(total=total, desc=self.desc, unit="hop", file=self.stream, disable=self.disable,
                        dynamic_ncols=True, leave=True)
        if skipped:
            self.bar.write(f"{self.desc}: {skipped} hops already done in the output folder (resumed)", file=self.stream)

    def __call__(self, record: dict[str, Any]) -> None:
        self.done += 1
        self.converged += bool(record.get("error") is None and record.get("converged"))
        self.failed += record.get("error") is not None
        if self.bar is None:
            self.start(0)
        elapsed = time.perf_counter() - self.t0
        self.bar.set_postfix(converged=f"{self.converged}/{self.done}", failed=self.failed,
                             hops_per_h=f"{3600 * self.done / elapsed:.0f}" if elapsed > 0 else "-", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
