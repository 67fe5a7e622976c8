"""Benchmark: application start-up with every installed plugin (target <= 2 s).

    python bench/startup.py [--runs 5]

Each run is a fresh Python process (nothing cached in memory) that imports Federa, builds the app
with all installed plugins (`FEDERA_PLUGINS` unset) and answers `GET /healthz` on an empty SQLite
database. Reported per phase (imports, create_app, first request) and as the wall time of the whole
process as the parent sees it. Prints JSON. Not part of `make test`: run `make bench`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 2.0

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from core.app import create_app
t1 = time.perf_counter()
app = create_app({"DATA_DIR": sys.argv[2], "SECRET_KEY": "bench", "REDIS_URL": None, "PLUGINS": None,
                  "SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[2] + "/startup.sqlite"})
t2 = time.perf_counter()
response = app.test_client().get("/healthz")
t3 = time.perf_counter()
assert response.status_code == 200, response.get_data(as_text=True)
print(json.dumps({"imports": t1 - t0, "create_app": t2 - t1, "first_request": t3 - t2,
                  "plugins": [p for p in app.extensions["federa"].plugins.order]}))
"""


def run_once(data_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERA_")}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), data_dir], capture_output=True, text=True,
                         env=env, check=False)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process_wall"] = wall
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="federa-startup-") as data_dir:
        run_once(data_dir)  # warm the OS file cache and byte-code; not counted
        runs = [run_once(data_dir) for _ in range(args.runs)]
    result = {"benchmark": "startup", "runs": args.runs, "plugins": runs[0]["plugins"]}
    for phase in ("imports", "create_app", "first_request", "process_wall"):
        values = sorted(r[phase] for r in runs)
        result[f"{phase}_p50_s"] = round(statistics.median(values), 3)
        result[f"{phase}_max_s"] = round(values[-1], 3)
    startup = sorted(r["imports"] + r["create_app"] + r["first_request"] for r in runs)
    result["startup_p50_s"] = round(statistics.median(startup), 3)
    result["target_s"] = TARGET_SECONDS
    result["meets_target"] = result["startup_p50_s"] <= TARGET_SECONDS
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
