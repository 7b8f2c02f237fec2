"""`mjpod sweep`: a grid of record / rollout / bench jobs run on Ray (docs/sweep.md)."""
