"""The experiment library: Chaos Toolkit templates in experiments/, their catalogue metadata,
and rendering one for a service (catalogue, render, and the `chaosbot experiments` command)."""
