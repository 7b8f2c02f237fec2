"""This box: what it is (sysinfo) and whether it can render and simulate (doctor)."""
