"""Network probes: targets, the asyncio engine, TLS and HTTP probes, and their facts."""
