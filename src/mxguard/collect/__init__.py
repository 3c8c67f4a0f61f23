"""Collectors: read-only observers that turn a host into a facts `Snapshot`."""
