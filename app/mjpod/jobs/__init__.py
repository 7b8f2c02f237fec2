"""The jobs a command runs: bench, record, rollout, serve, and the sweep that runs many of them.
Each composes models, engines, renderers, video and streams."""
