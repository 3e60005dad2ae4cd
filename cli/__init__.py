"""The ``gatewatch`` command: one entry point for every part of the tool."""
