"""Fixtures of the integration tests in this folder (defined in `proxylab`)."""

from proxylab import apache_config, app, audit, nginx_config, tls, upstream

__all__ = ["apache_config", "app", "audit", "nginx_config", "tls", "upstream"]
