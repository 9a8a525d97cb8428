-- A file's rejects from an earlier delivery of the same name, before this one's are written.
delete from ops.rejected_rows
where pipeline_name = %(pipeline_name)s and source = %(source)s;
