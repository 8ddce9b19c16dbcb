"""depthdif.baselines"""
