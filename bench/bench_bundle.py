"""What a versioned bundle costs: a GitDagBundle version against the unversioned folder, in one run.

    python bench/bench_bundle.py [--repeat 5]

A bare repository of the project's ``dags/`` (file://) is the remote; Airflow runs from a fresh
virtualenv with the runtime requirements and the plugin's wheel only (the bundle installed
nowhere), every measurement in a subprocess of its own:

1. Making a version's checkout (``GitDagBundle(version=sha).initialize()``, what a worker does
   before the first task of a commit): the first version of all (bare clone + checkout), a new
   version of a bundle already fetched, and a version already checked out; against the
   unversioned folder (``LocalDagBundle.initialize()``).
2. Parsing ``retail_daily.py`` from a version's checkout and from a plain folder holding the
   same files (``BundleDagBag``, as the dag-processor and the task runner do): the first parse
   of each (it compiles the copy's byte-code: every new version pays it once), then the median
   of ``--repeat`` parses, as a ratio.
3. Disk: a version's checkout, the bare repository, against the folder.

Results go to bench/results/bundle-*.json; docs/BENCHMARKS.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import PROJECT_ROOT, machine_info, print_table, write_results

from reliable_etl_dev.packaging import build_wheels, runtime_venv

GIT = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]

INIT = """
import json, sys, time
from airflow.dag_processing.bundles.local import LocalDagBundle
from airflow.providers.git.bundles.git import GitDagBundle
kind, arg = sys.argv[1], sys.argv[2]
if kind == "git":
    bundle = GitDagBundle(name="bench", version=arg, tracking_ref="main", subdir="dags", git_conn_id="bench_git")
else:
    bundle = LocalDagBundle(name="folder", path=arg)
t = time.perf_counter()
bundle.initialize()
print(json.dumps({"initialize_s": time.perf_counter() - t, "path": str(bundle.path)}))
"""

PARSE = """
import json, sys, time
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
root = Path(sys.argv[1])
t = time.perf_counter()
bag = BundleDagBag(dag_folder=str(root / "retail_daily.py"), bundle_path=root, bundle_name="bench")
parse_s = time.perf_counter() - t
import reliable_etl
print(json.dumps({"parse_s": parse_s, "dag_ids": sorted(bag.dag_ids), "errors": {str(k): str(v)[-500:] for k, v in
      bag.import_errors.items()}, "package": reliable_etl.__file__}))
"""


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def child(bin_dir: Path, env: dict[str, str], code: str, *args: str) -> dict:
    proc = subprocess.run(
        [str(bin_dir / "python"), "-c", code, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="parses per kind (the median is reported)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="etl_bench_bundle_") as tmp_name:
        tmp = Path(tmp_name)
        print("building the wheels and a runtime virtualenv (the plugin, no bundle) ...", flush=True)
        bin_dir = runtime_venv(tmp / "venv", build_wheels(tmp / "dist")["reliable-etl-plugin"])

        work, remote, folder = tmp / "work", tmp / "remote.git", tmp / "folder"
        subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(remote)], check=True)
        subprocess.run(["git", "init", "--quiet", "-b", "main", str(work)], check=True)
        shutil.copytree(PROJECT_ROOT / "dags", work / "dags", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copytree(work / "dags", folder)
        git(work, "remote", "add", "origin", str(remote))
        shas = []
        for n in range(3):
            (work / "dags" / "VERSION").write_text(f"{n}\n")  # a commit per version, as a team pushes
            git(work, "add", "--all")
            git(work, "commit", "--quiet", "-m", f"version {n}")
            git(work, "push", "--quiet", "origin", "main")
            shas.append(git(work, "rev-parse", "HEAD"))

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
        env.update(
            AIRFLOW_HOME=str(tmp / "airflow"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
            AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH=str(tmp / "bundles"),
            AIRFLOW_CONN_BENCH_GIT=json.dumps({"conn_type": "git", "host": f"file://{remote}"}),
        )

        print("1. a version's checkout", flush=True)
        first = child(bin_dir, env, INIT, "git", shas[0])  # bare clone + the first checkout
        new = child(bin_dir, env, INIT, "git", shas[1])  # a new commit of a fetched bundle
        again = [child(bin_dir, env, INIT, "git", shas[1])["initialize_s"] for _ in range(args.repeat)]
        local = [child(bin_dir, env, INIT, "local", str(folder))["initialize_s"] for _ in range(args.repeat)]
        version_dir = Path(new["path"])

        print("2. parsing retail_daily.py", flush=True)
        # the first parse of each copy compiles its byte-code (a new version always pays it once)
        cold = {
            kind: child(bin_dir, env, PARSE, str(root))["parse_s"]
            for kind, root in (("version", version_dir), ("folder", folder))
        }
        parses: dict[str, list[float]] = {"version": [], "folder": []}
        for _ in range(args.repeat):
            for kind, root in (("version", version_dir), ("folder", folder)):
                result = child(bin_dir, env, PARSE, str(root))
                if result["errors"] or result["dag_ids"] != ["retail_daily"]:
                    raise RuntimeError(f"{kind}: {result}")
                if not Path(result["package"]).is_relative_to(root):
                    raise RuntimeError(f"{kind}: reliable_etl came from {result['package']}, not {root}")
                parses[kind].append(result["parse_s"])

        sizes = {
            "version": du(version_dir.parent),
            "bare": du(tmp / "bundles" / "bench" / "bare"),
            "folder": du(folder),
        }

    version_parse, folder_parse = (statistics.median(parses[k]) for k in ("version", "folder"))
    ratio = version_parse / folder_parse
    print()
    print_table(
        ["what", "versioned (GitDagBundle)", "unversioned folder", "ratio"],
        [
            ["first version: bare clone + checkout", f"{first['initialize_s']:.2f} s", "", ""],
            [
                "new version of a fetched bundle",
                f"{new['initialize_s']:.2f} s",
                f"{statistics.median(local) * 1000:.1f} ms",
                "",
            ],
            ["version already checked out", f"{statistics.median(again) * 1000:.1f} ms", "", ""],
            [
                "first parse (compiles the copy's byte-code)",
                f"{cold['version'] * 1000:.0f} ms",
                f"{cold['folder'] * 1000:.0f} ms",
                f"{cold['version'] / cold['folder']:.2f}x",
            ],
            [
                "parse retail_daily.py (median)",
                f"{version_parse * 1000:.0f} ms",
                f"{folder_parse * 1000:.0f} ms",
                f"{ratio:.2f}x",
            ],
            ["disk: a version's checkout", f"{sizes['version'] / 1e6:.2f} MB", f"{sizes['folder'] / 1e6:.2f} MB", ""],
            ["disk: the bare repository (once)", f"{sizes['bare'] / 1e6:.2f} MB", "", ""],
        ],
    )
    payload = {
        "repeat": args.repeat,
        "initialize_s": {
            "first_version": round(first["initialize_s"], 3),
            "new_version": round(new["initialize_s"], 3),
            "existing_version_median": round(statistics.median(again), 4),
            "local_folder_median": round(statistics.median(local), 4),
        },
        "first_parse_s": {k: round(v, 4) for k, v in cold.items()},
        "parse_s": {k: [round(v, 4) for v in vals] for k, vals in parses.items()},
        "parse_ratio_version_over_folder": round(ratio, 3),
        "bytes": sizes,
        "machine": machine_info(),
    }
    print(f"results: {write_results('bundle', payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
