"""The check catalog, one module per checklist section and fact source.

Importing this package registers every check; `registry.catalog()` lists them.
"""

from mxguard.checks import (  # noqa: F401 - imported for their registrations
    s00_collection,
    s02_version,
    s03_accounts,
    s04_files,
    s05_live,
    s05_proxy,
    s06_live,
    s06_network,
    s07_live,
    s07_proxy,
    s08_admin,
    s08_live,
    s09_drift,
    s09_live,
    s09_proxy,
    s10_database,
    s10_development,
)
