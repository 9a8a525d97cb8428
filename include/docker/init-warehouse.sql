-- docker compose: the warehouse database and its owner, next to Airflow's metadata database.
create role etl login password 'etl';
create database warehouse owner etl;
