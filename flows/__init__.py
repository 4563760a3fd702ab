"""Prefect flows (installed as ``catloc.flows``): the nightly run and reruns of chosen SKUs."""
