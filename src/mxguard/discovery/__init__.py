"""Discovery: finding the Mendix installations of a host, live or in a `--root` tree."""
