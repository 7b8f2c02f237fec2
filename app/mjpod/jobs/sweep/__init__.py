"""`mjpod sweep`: a grid of record / rollout / bench jobs run on Ray or in a plain loop (docs/sweep.md)."""
