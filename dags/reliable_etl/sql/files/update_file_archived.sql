-- Where a file of a run was moved once processed.
update ops.file_loads
set archived_to = %(archived_to)s
where run_id = %(run_id)s and file_name = %(file_name)s;
