"""Cutline's media pipeline: probe -> beats -> plan -> render. Plain Python, no Django."""
