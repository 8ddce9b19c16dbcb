"""depthdif.models"""
