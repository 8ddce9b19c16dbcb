"""depthdif.evaluation"""
