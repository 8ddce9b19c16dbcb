"""depthdif.train"""
