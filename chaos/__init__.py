"""The fault-injection suite: real faults against the real pipelines, measured.

Each case breaks something on purpose (SIGKILL of the task process at a named failpoint, a
crashed or restarted PostgreSQL, a terminated connection, a held lock, two runs of one unit, a
restarted broker, every fault of the fake Jira/GitHub, the bad-file corpus), lets the pipeline
recover the way it would in production (the same command again, or its own retries), checks
the case's invariant against a clean run, and reports trials, survived, rows lost, duplicates
and time to recover. The secrets case runs last and searches everything the others left.

    python -m chaos                    # the full counts (make chaos), report in .etl/chaos/
    python -m chaos --ci               # the subset `make test` runs (tests/chaos/)
    python -m chaos --only sigkill,lock --seed 7

The task processes are the `etl` CLI (the DAGs' tasks call the same functions); trials are
seeded, so a run is reproducible. See docs/RELIABILITY.md for the figures of a full run.
"""
