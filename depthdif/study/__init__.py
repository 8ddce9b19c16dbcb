"""depthdif.study"""
