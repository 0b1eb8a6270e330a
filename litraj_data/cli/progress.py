"""Progress on stderr (one tqdm factory) and the third-party noise a command hides.

stdout belongs to the command's result (one JSON document with ``--json``), so every bar and
note goes to stderr through :func:`progress_bar` and :func:`note`. :func:`third_party_noise`
is the one place that decides what of other libraries' chatter a user sees: Lightning's
accelerator banner and logger advertisements, matgl/PyG's ``Processing...``/``Done!``,
CHGNet's start-up lines and its ``requires_grad`` UserWarning, pymatgen's CIF parser
warnings. They are hidden by targeted filters (a message, a category and a module, or a
logger), never by silencing warnings as a whole, and shown again with ``--verbose``.
"""
from __future__ import annotations

import contextlib
import logging
import re
import sys
import warnings
from typing import Any, Iterator, TextIO

__all__ = ["NOISY_LINES", "note", "progress_bar", "third_party_noise"]


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", disable: bool | None = None,
                 stream: TextIO | None = None, **kwargs: Any) -> Any:
    """A tqdm bar on stderr with the package's settings.

    Parameters
    ----------
    total
        Number of steps (``None``: a counter without a total).
    desc, unit
        Label and unit (``"hop"``, ``"epoch"``, ``"row"``...).
    disable
        ``True``: no bar (the object still counts); ``None``: tqdm's rule (no bar when the
        stream is not a terminal is *not* applied, so that logs of batch jobs show progress).
    stream
        Where to draw (default: ``sys.stderr`` at call time).
    **kwargs
        Passed to :class:`tqdm.tqdm` (``initial``, ``leave``, ``unit_scale``...).
    """
    from tqdm import tqdm  # not at import: `litraj CMD --help` must not pay for it

    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", True)
    return tqdm(total=total, desc=desc, unit=unit, file=stream or sys.stderr, disable=bool(disable), **kwargs)


def note(message: str) -> None:
    """One line for the user on stderr (flushed at once: a long step must show that it started)."""
    print(message, file=sys.stderr, flush=True)


#: Lines other libraries print on their own (stdout or stderr): matgl/PyG dataset processing,
#: CHGNet's start-up. Matched against a whole line.
NOISY_LINES = (re.compile(r"Processing\.\.\."), re.compile(r"Done!"),
               re.compile(r"CHGNet v?[\w.]* ?initialized with [\d,]+ parameters"),
               re.compile(r"CHGNet will run on \w+"))

#: Lightning log records that advertise or describe the hardware, by logger and message start.
_LIGHTNING_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                      "pytorch_lightning.utilities.rank_zero")
_LIGHTNING_MESSAGES = re.compile(r"^(GPU available|TPU available|HPU available|IPU available|💡 Tip|"
                                 r"You are using a CUDA device|LOCAL_RANK)")


class _LightningBanner(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _LIGHTNING_MESSAGES.match(record.getMessage())


class _LineFilter:
    """A text stream that drops whole lines matching :data:`NOISY_LINES`, passing the rest through.

    ``print(x)`` writes ``x`` then ``"\\n"`` in two calls, so a dropped line also drops the
    newline that follows it. Anything else (tqdm's ``\\r`` redraws, partial lines) is untouched.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._eat_newline = False

    def write(self, s: str) -> int:
        if self._eat_newline and s == "\n":
            self._eat_newline = False
            return len(s)
        self._eat_newline = False
        line = s.rstrip("\n")
        if "\n" not in line and "\r" not in line and any(p.fullmatch(line.strip()) for p in NOISY_LINES):
            self._eat_newline = not s.endswith("\n")
            return len(s)
        return self._stream.write(s)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding...
        return getattr(self._stream, name)


@contextlib.contextmanager
def third_party_noise(verbose: bool = False) -> Iterator[None]:
    """Hide the listed third-party chatter for the duration of a command, unless ``verbose``.

    Warnings are filtered by message and category (and the emitting module), Lightning's
    banner by logger and message, printed lines by :data:`NOISY_LINES`; our own warnings
    and every other third-party warning pass. Everything is restored on exit.
    """
    if verbose:
        yield
        return
    banner = _LightningBanner()
    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    with warnings.catch_warnings():
        # CHGNet converts a tensor that requires grad to a scalar on every forward pass
        warnings.filterwarnings("ignore", message=r"Converting a tensor with requires_grad=True to a scalar",
                                category=UserWarning)
        # pymatgen's CIF parser reports every repaired occupancy or missing tag as a warning
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pymatgen\.io\.cif")
        warnings.filterwarnings("ignore", message=r"Issues encountered while parsing CIF", category=UserWarning)
        for lg in loggers:
            lg.addFilter(banner)
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _LineFilter(out), _LineFilter(err)  # type: ignore[assignment]
        try:
            yield
        finally:
            # only undo our own wrapping: a command that redirected in between has restored its own
            if isinstance(sys.stdout, _LineFilter):
                sys.stdout = out
            if isinstance(sys.stderr, _LineFilter):
                sys.stderr = err
            for lg in loggers:
                lg.removeFilter(banner)
