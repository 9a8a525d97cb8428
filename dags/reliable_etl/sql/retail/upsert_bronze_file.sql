insert into bronze.retail_files as f (business_date, file_name, sha256, size_bytes, row_count, run_id)
values (%(day)s, %(file_name)s, %(sha256)s, %(size_bytes)s, %(row_count)s, %(run_id)s)
on conflict (business_date) do update
    set
        file_name = excluded.file_name,
        sha256 = excluded.sha256,
        size_bytes = excluded.size_bytes,
        row_count = excluded.row_count,
        run_id = excluded.run_id,
        loaded_at = now();
