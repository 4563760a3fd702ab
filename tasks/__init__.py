"""The stages (installed as ``catloc.tasks``): one module per stage, pure logic, no Prefect."""
