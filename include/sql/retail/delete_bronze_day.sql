delete from bronze.retail_sales
where business_date = %(day)s;
