"""The camera data tests' scene: a box held still (no gravity) in front of two cameras at known places.

A motor pushes the light box along x (noise controls move it by centimetres in 0.1 s). `front` looks along +y from (0, -1, 0.2): the box's near face (y = -0.1) is BOX_DISTANCE = 0.9 m away
along its optical axis, the floor below the horizon, nothing above it. `top` looks down from z = 2: the
box's top (z = 0.3) is 1.7 m away, the floor 2 m. A sensor reads the box's position (qpos[:3] at the same state). One scene for the renderer, rollout and
sweep tests, so
Warp compiles its kernels once.
"""

from pathlib import Path

CAMERAS = """<mujoco model="cameras">
  <option gravity="0 0 0"/>
  <worldbody>
    <light pos="0 -1 3" dir="0 .3 -1"/>
    <camera name="front" pos="0 -1 0.2" xyaxes="1 0 0 0 0 1"/>
    <camera name="top" pos="0 0 2" xyaxes="1 0 0 0 1 0"/>
    <geom name="floor" type="plane" size="2 2 .1" rgba=".3 .35 .4 1"/>
    <body name="box" pos="0 0 0.2">
      <freejoint name="box"/>
      <geom name="box" type="box" size=".1 .1 .1" density="100" rgba="1 .5 0 1"/>
    </body>
  </worldbody>
  <actuator><motor name="push" joint="box" gear="1000 0 0 0 0 0" ctrlrange="-1 1"/></actuator>
  <sensor><framepos name="box_pos" objtype="body" objname="box"/></sensor>
</mujoco>
"""
BOX_DISTANCE = 0.9  # metres from `front` to the box's near face, along the optical axis
TOP_DISTANCE = 1.7  # from `top` to the box's top face


def write(folder: Path) -> Path:
    path = folder / "cameras.xml"
    path.write_text(CAMERAS)
    return path
