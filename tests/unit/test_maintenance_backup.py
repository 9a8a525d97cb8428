"""backup_critical_data against real servers: round trip into a scratch database, damage detected, outages.

The test server (PostgreSQL 15 on 127.0.0.1:5432, or whatever reliable_etl_dev.scratch picks) and a private
pgserver (PostgreSQL 16) each get the pg_dump of their own major version.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from reliable_etl.config import settings
from reliable_etl.errors import BadInputError
from reliable_etl.maintenance.backup import backup_critical_data, list_backups, restore_backup, sha256_of, verify_backup
from reliable_etl.ops.logs import flush_logs
from reliable_etl_dev import scratch


def checksums(uri: str, tables: list[dict]) -> dict[str, tuple[int, str]]:
    with psycopg.connect(uri) as conn:
        return {
            f"{t['schema']}.{t['table']}": conn.execute(
                f"select count(*), md5(coalesce(string_agg(x::text, '|' order by x::text), ''))"
                f' from "{t["schema"]}"."{t["table"]}" as x'
            ).fetchone()
            for t in tables
        }


@pytest.fixture
def some_data(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute(
        "insert into ops.rejected_rows (pipeline_name, source, line, raw, reason, unit_key)"
        " select 'backup-test', 'f.csv', g, 'raw, \"quoted\" ' || g, 'reason', 'u' from generate_series(1, 500) as g"
        " on conflict do nothing"
    )
    conn.execute(
        "insert into gold.fact_country_sales values ('1999-01', 'Nowhere', 1, 1, 1, 1.500, null) on conflict do nothing"
    )
    return conn


def test_round_trip_into_a_scratch_database_equals_the_source(maint_env, some_data, pg_server) -> None:
    flush_logs(force=True)
    source_uri = scratch.libpq_uri(pg_server, psycopg.conninfo.conninfo_to_dict(some_data.info.dsn)["dbname"])
    result = backup_critical_data(run_id="test-backup")
    assert result.status == "success", result.errors
    location = Path(result.backup_location)
    assert location.parent == settings().backup_dir
    assert sorted(result.files_created) == ["backup.dump", "manifest.json"]
    manifest = json.loads((location / "manifest.json").read_text())
    source = checksums(source_uri, manifest["tables"])  # nothing wrote in between (logs are buffered)
    assert {t["schema"] for t in manifest["tables"]} == {"ops", "gold"}
    assert {f"{t['schema']}.{t['table']}": t["rows"] for t in manifest["tables"]} == {
        name: rows for name, (rows, _) in source.items()
    }
    for entry in manifest["files"]:
        assert sha256_of(location / entry["file"]) == entry["sha256"]
    with psycopg.connect(source_uri) as conn:
        major = conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()[0]
    assert manifest["pg_dump_major"] == major  # the client of the server's own version
    assert verify_backup(location) == []

    with scratch.database(pg_server, prefix="etl_restore") as name:
        target = scratch.libpq_uri(pg_server, name)
        restored = restore_backup(location, target)
        assert set(restored.tables) == set(source)
        assert checksums(target, manifest["tables"]) == source  # every table, row for row
    assert list_backups()[0]["directory"] == str(location)


def test_a_corrupted_backup_is_detected_and_not_restored(maint_env, some_data, pg_server) -> None:
    result = backup_critical_data()
    location = Path(result.backup_location)
    dump = location / "backup.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    problems = verify_backup(location)
    assert len(problems) == 1
    assert problems[0].startswith("backup.dump: sha256 ")
    with (
        scratch.database(pg_server, prefix="etl_restore") as name,
        pytest.raises(BadInputError, match="does not verify"),
    ):
        restore_backup(location, scratch.libpq_uri(pg_server, name))


def test_a_damaged_archive_fails_pg_restore_list_even_with_a_matching_checksum(maint_env, some_data) -> None:
    """A file damaged before it was hashed: the checksum agrees, pg_restore --list does not."""
    location = Path(backup_critical_data().backup_location)
    dump = location / "backup.dump"
    dump.write_bytes(dump.read_bytes()[:60])
    manifest = json.loads((location / "manifest.json").read_text())
    manifest["files"][0]["sha256"] = sha256_of(dump)
    (location / "manifest.json").write_text(json.dumps(manifest))
    problems = verify_backup(location)
    assert len(problems) == 1
    assert problems[0].startswith("backup.dump: pg_restore failed: ")


def test_only_the_newest_backups_are_kept(maint_env, schema) -> None:
    maint_env.setenv("ETL_BACKUP_KEEP", "2")
    settings.cache_clear()
    made = [backup_critical_data(schemas=["gold"]).backup_location for _ in range(3)]
    assert [b["directory"] for b in list_backups()] == [made[2], made[1]]
    assert not Path(made[0]).exists()


def test_postgres_stopped_in_the_middle_of_the_backup(private_pg, private_warehouse) -> None:
    """pgserver's own PostgreSQL 16 and its pg_dump; stopped while the dumps run."""
    result = backup_critical_data(progress=lambda step: private_pg.stop("immediate") if step == "counts" else None)
    assert result.status == "failed"
    assert result.postgres_available is False
    assert result.backup_location is None
    assert result.errors[0].startswith("postgres: "), result.errors  # pg_dump's or the counts' connection, cut
    assert list_backups() == []
    assert [p.name for p in settings().backup_dir.iterdir()] == []  # the partial directory is gone

    down = backup_critical_data()  # down from the start: a value, not an exception
    assert down.status == "failed"
    assert down.postgres_available is False

    private_pg.start()
    after = backup_critical_data()
    assert after.status == "success", after.errors
    manifest = json.loads((Path(after.backup_location) / "manifest.json").read_text())
    assert manifest["pg_dump_major"] == 16
    assert "pgserver" in manifest["pg_dump"]
    assert verify_backup(Path(after.backup_location)) == []


def test_restore_refuses_what_is_not_a_backup(tmp_path) -> None:
    with pytest.raises(BadInputError, match="not a backup"):
        restore_backup(tmp_path, "postgresql://nobody@127.0.0.1/none")


def test_etl_backup_list_verify_restore(maint_env, some_data, pg_server, capsys) -> None:
    from reliable_etl.cli import main

    location = backup_critical_data().backup_location
    assert main(["backup", "list"]) == 0
    assert location in capsys.readouterr().out
    assert main(["backup", "verify", location]) == 0
    assert capsys.readouterr().out.strip() == f"{location}: verified"
    with scratch.database(pg_server, prefix="etl_restore") as name:
        assert main(["backup", "restore", location, "--into", scratch.libpq_uri(pg_server, name)]) == 0
        out = capsys.readouterr().out
        assert "row counts as in the manifest" in out
        assert "ops.rejected_rows" in out
    (Path(location) / "backup.dump").write_bytes(b"damaged")
    assert main(["backup", "verify", location]) == 1
    with scratch.database(pg_server, prefix="etl_restore") as name:
        assert main(["backup", "restore", location, "--into", scratch.libpq_uri(pg_server, name)]) == 2
    assert "does not verify, nothing restored" in capsys.readouterr().err
