"""litraj_data.io.atomic_write_table: one way to write prediction / feature / training tables."""
from __future__ import annotations

import pandas as pd
import pytest

from litraj_data.io import atomic_write_table


@pytest.mark.parametrize("name", ["p.csv", "p.parquet", "p.PQ"])
def test_round_trip_and_format_by_suffix(tmp_path, name):
    df = pd.DataFrame({"edge_id": ["a", "b"], "prediction": [0.25185332676279976, 1.0]})
    path = atomic_write_table(df, tmp_path / "sub" / name)
    assert path.exists() and not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    if name.endswith(".csv"):
        assert path.read_text().splitlines()[0] == "edge_id,prediction"  # no index column
        back = pd.read_csv(path, float_precision="round_trip")
    else:
        assert path.read_bytes()[:4] == b"PAR1"
        back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, df)


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("old\n")

    class Broken(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_table(Broken({"a": [1]}), path)
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["p.csv"]
