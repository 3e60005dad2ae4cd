"""A jsonnet monitoring mixin (``build/mixin/``) rendered from the same rules and dashboards as
``build/``, with a ``_config`` for what differs between clusters."""
