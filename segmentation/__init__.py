"""Customer segmentation: raw sales lines or a customer table in, named segments in a DuckDB file out."""

__version__ = "0.1.0"
