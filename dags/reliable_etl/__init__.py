"""Shared code of the reliable ETL bundle: ops ledger, retry, retail, CLI.

Importable from DAG files (the bundle root is on ``sys.path``) and, after
``pip install -e .``, from tests and the ``etl`` command, the same way.
"""
