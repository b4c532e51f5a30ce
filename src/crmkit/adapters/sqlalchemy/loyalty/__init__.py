"""loyalty"""
