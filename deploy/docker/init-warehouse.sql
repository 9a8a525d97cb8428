-- docker compose, service `warehouse`: the bundle's role and database on the warehouse's own server.
-- Run once by the postgres image on an empty data directory (psql, as its superuser). The password
-- comes from the container's ETL_WAREHOUSE_PASSWORD (psql 15+ \getenv), never from this file.
\set ON_ERROR_STOP on
\getenv etl_password ETL_WAREHOUSE_PASSWORD
create role etl login password :'etl_password';
create database warehouse owner etl;
