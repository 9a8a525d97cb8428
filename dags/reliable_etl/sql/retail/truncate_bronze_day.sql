-- Replace the day: emptied in the unit's transaction, so a rollback brings the old rows back.
truncate table {partition};
