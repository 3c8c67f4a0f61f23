"""The lab: example installations and, later, an emulator of the Mendix runtime.

Nothing here is a real Mendix runtime. The Mendix runtime cannot be installed on a test
machine, so the lab reproduces only what mxguard's checks look at, and says so.
"""
