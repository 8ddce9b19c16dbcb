"""depthdif.diffusion"""
