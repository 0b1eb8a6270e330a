"""Save and load baseline models in a format that cannot run code (skops), never by unpickling.

A model folder may come from anyone (a shared drive, a download): ``pickle``/``joblib`` files
execute arbitrary code when loaded. Baselines are saved with ``skops.io`` and loaded with an
explicit list of trusted types (the estimators this package trains); a file asking for any
other type is refused with the types named. A legacy ``model.joblib`` (written by
litraj-data 0.1) is loaded only with ``trust=True`` (``--trust``), with a warning.
"""
from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

from litraj_data.errors import DataFormatError
from litraj_data.io import atomic_writer
from litraj_data.lazy import lazy_import
from litraj_data.trust import UnsafeWeightsError

MODEL_FILE = "model.skops"
LEGACY_FILE = "model.joblib"

#: types a litraj-data baseline may contain beyond skops' own defaults (sklearn pipelines,
#: imputers, scalers, the regressors and numpy arrays are trusted by skops already)
TRUSTED_TYPES = frozenset({
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBRFRegressor",
})


class UntrustedModelError(UnsafeWeightsError):
    """A model file that would need code execution or types this package does not train.

    An :class:`litraj_data.trust.UnsafeWeightsError` (``reason`` ``unsafe_weights``), as every
    model file litraj-data refuses to load without ``--trust``.
    """


def save_model(estimator: Any, model_dir: str | os.PathLike) -> Path:
    """Write ``estimator`` as ``model_dir/model.skops`` (atomically)."""
    sio = lazy_import("skops.io")

    path = Path(model_dir) / MODEL_FILE
    with atomic_writer(path, "wb") as fh:
        fh.write(sio.dumps(estimator))
    return path


def load_model(model_dir: str | os.PathLike, trust: bool = False) -> Any:
    """The estimator saved in ``model_dir``.

    Parameters
    ----------
    model_dir : path
        A folder written by ``litraj baseline train``.
    trust : bool
        Accept types outside :data:`TRUSTED_TYPES` and legacy pickle files (they can run code:
        only for folders you made yourself).

    Raises
    ------
    UntrustedModelError
        The file needs untrusted types (named in the message) or is a pickle, and ``trust``
        is False.
    FileNotFoundError
        No model file in the folder.
    """
    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    if path.is_file():
        sio = lazy_import("skops.io")

        data = path.read_bytes()
        try:
            needed = set(sio.get_untrusted_types(data=data))
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
            # skops reads a zip with a JSON schema: anything else is not a model file
            raise DataFormatError(f"{path}: not a skops model file ({type(exc).__name__}: {exc})",
                                  reason="weights_invalid") from None
        extra = sorted(needed - TRUSTED_TYPES)
        if extra and not trust:
            raise UntrustedModelError(f"{path} asks for types this package does not train: {', '.join(extra)}; "
                                      "refusing to load it (pass --trust / trust=True only for a file you made)")
        try:
            return sio.loads(data, trusted=sorted(needed))
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: cannot rebuild the model ({type(exc).__name__}: {exc})",
                                  reason="weights_invalid") from None
    legacy = model_dir / LEGACY_FILE
    if legacy.is_file():
        if not trust:
            raise UntrustedModelError(f"{legacy} is a pickle (loading it can run any code); retrain to get "
                                      f"{MODEL_FILE}, or pass --trust / trust=True if you made this file yourself")
        warnings.warn(f"unpickling {legacy} because trust=True: this runs whatever code the file holds",
                      stacklevel=2)
        import joblib

        return joblib.load(legacy)
    raise FileNotFoundError(f"{model_dir} holds no {MODEL_FILE} (made by `litraj baseline train`)")
