"""One rank of the load-order test: the real `tinyvision train` CLI, with a dataset that records when it loads.

The tiny generated dataset is registered with a loader that takes a second
and writes (start, end) wall-clock times to $TRACE_DIR/load-rank<R>.json, so
the test can see that rank 0 loaded (downloaded) first while the others
waited at the barrier.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import tiny_image_data  # noqa: E402
from tinyvision.cli import main  # noqa: E402
from tinyvision.datasets import REGISTRY, DatasetSpec  # noqa: E402

RANK = int(os.environ.get("RANK", "0"))


def timed_load(data_dir, image_size):
    start = time.time()
    time.sleep(1.0)  # a download: long enough that waiting or not is plain to see
    data = tiny_image_data()
    (Path(os.environ["TRACE_DIR"]) / f"load-rank{RANK}.json").write_text(json.dumps([start, time.time()]))
    return data


if __name__ == "__main__":
    REGISTRY["tiny"] = DatasetSpec("tiny", "folder", "resize", timed_load, "generated quadrants, timed")
    sys.exit(main(sys.argv[1:]))
