"""One module per pipeline stage: pure stage logic plus a thin Prefect ``@task``."""
