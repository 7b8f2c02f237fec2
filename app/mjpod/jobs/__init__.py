"""The jobs a command runs: bench, record, serve. Each composes models, engines, renderers, video and streams."""
