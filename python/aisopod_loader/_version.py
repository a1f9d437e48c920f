"""The package's version: always the version of the libaisopod_loader it was written against."""

__version__ = "0.1.0"
