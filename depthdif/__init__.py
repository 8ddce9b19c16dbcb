"""depthdif: conditional diffusion for subsurface ocean temperature, with Ray-scaled studies."""

__version__ = "0.1.0"
