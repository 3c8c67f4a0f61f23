"""mxguard audits, hardens and verifies on-premises Mendix installations."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mxguard")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
