"""catloc: overnight localization of supplier product catalogs."""

__version__ = "0.1.0"
