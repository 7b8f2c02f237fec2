"""Renderers: `gl` (mujoco.Renderer on EGL/OSMesa/GLFW)."""
