"""Reverse-proxy configurations (nginx, Apache httpd, IIS) parsed into one model."""
