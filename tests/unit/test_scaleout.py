"""The parts of the scale-out checks that need no scheduler: LocalAirflow's Celery mode as
configuration, and the fake server's count of concurrent requests (what proves the pools)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from reliable_etl_dev.airflow_local import DEFAULT_BROKER_URL, RETRY_POLICY_MARK, LocalAirflow, worker_hostname
from reliable_etl_dev.fakes import FakeServer

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/airflow_meta"


def test_the_celery_mode_sets_executor_broker_result_backend_and_a_key_prefix(tmp_path):
    af = LocalAirflow(tmp_path / "a", tmp_path, metadata_db=PG, executor="CeleryExecutor",
                      task_instance_heartbeat_timeout=20)  # fmt: skip
    env = af.environ()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == DEFAULT_BROKER_URL == "redis://127.0.0.1:6379/5"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + PG
    assert env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == "20"
    assert float(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL"]) == 5.0
    # two instances on one Redis database never share a key: neither takes the other's tasks
    other = LocalAirflow(tmp_path / "b", tmp_path, metadata_db=PG, executor="CeleryExecutor")
    prefixes = {env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"], other.broker_prefix}
    assert len(prefixes) == 2
    assert all(p.startswith("etl-") and p.endswith(":") for p in prefixes)
    # the LocalExecutor default is unchanged
    local = LocalAirflow(tmp_path / "c", tmp_path).environ()
    assert local["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert not any(k.startswith("AIRFLOW__CELERY") for k in local)
    assert "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT" not in local


def test_the_celery_mode_refuses_sqlite_and_unknown_executors(tmp_path):
    with pytest.raises(ValueError, match="needs a PostgreSQL metadata_db"):
        LocalAirflow(tmp_path, tmp_path, executor="CeleryExecutor")
    with pytest.raises(ValueError, match="LocalExecutor or CeleryExecutor"):
        LocalAirflow(tmp_path, tmp_path, metadata_db=PG, executor="KubernetesExecutor")
    with pytest.raises(RuntimeError, match="workers need executor='CeleryExecutor'"):
        LocalAirflow(tmp_path, tmp_path).start_worker("w1")


def test_retry_delay_is_a_cluster_policy_written_and_removed(tmp_path):
    policy = tmp_path / "home" / "config" / "airflow_local_settings.py"
    LocalAirflow(tmp_path / "home", tmp_path, retry_delay=2)._write_retry_policy()
    namespace: dict = {}
    exec(policy.read_text(), namespace)  # the file just written

    class Task:
        retry_delay = None
        retry_exponential_backoff = 2.0

    task = Task()
    namespace["task_policy"](task)
    assert (task.retry_delay.total_seconds(), task.retry_exponential_backoff) == (2.0, 0)
    assert policy.read_text().startswith(RETRY_POLICY_MARK)
    LocalAirflow(tmp_path / "home", tmp_path)._write_retry_policy()  # no retry_delay: ours is removed
    assert not policy.exists()
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text("# someone else's settings\n")
    LocalAirflow(tmp_path / "home", tmp_path)._write_retry_policy()
    assert policy.exists()  # not ours: left alone


def test_a_worker_reports_its_name_as_the_hostname(monkeypatch):
    monkeypatch.setenv("ETL_AIRFLOW_WORKER_NAME", "w2")
    assert worker_hostname() == "w2"
    monkeypatch.delenv("ETL_AIRFLOW_WORKER_NAME")
    assert worker_hostname()  # the machine's name


def test_the_fake_server_counts_its_peak_of_concurrent_requests_per_service():
    with FakeServer(latency=0.3) as srv:
        srv.github.add_repo("acme/api", count=5)
        srv.jira.add_project("ENG", count=5)
        barrier = threading.Barrier(3)

        def jira_call(_: int) -> int:
            barrier.wait()
            return httpx.get(f"{srv.url}/rest/api/3/serverInfo", auth=("me", "t"), timeout=10).status_code

        with ThreadPoolExecutor(3) as pool:
            assert list(pool.map(jira_call, range(3))) == [200] * 3
        assert srv.peak_concurrency("jira") == 3
        assert srv.peak_concurrency("github") == 0
        httpx.get(f"{srv.url}/rest/api/3/serverInfo", auth=("me", "t"), timeout=10)
        assert srv.peak_concurrency("jira") == 3  # a peak, not the latest count
        srv.clear_requests()
        assert srv.peak_concurrency("jira") == 0
