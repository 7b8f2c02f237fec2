"""The appliance on a rented GPU host (Runpod)."""
