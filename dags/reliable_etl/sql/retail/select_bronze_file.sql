select
    file_name,
    sha256,
    row_count
from bronze.retail_files
where business_date = %(day)s;
