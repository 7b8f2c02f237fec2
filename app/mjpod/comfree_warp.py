"""`import mjpod.comfree_warp as mjwarp`: the seed's module name for the ComFree API, `mjpod.engines.comfree`.

Kept so seed scripts port by one import; the code lives in the engines' ComFree package.
"""

from mjpod.engines.comfree import *  # noqa: F403
from mjpod.engines.comfree import __all__, __getattr__  # noqa: F401
