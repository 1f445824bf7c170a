"""Reproductions of published experiments, each run by ``infomax study NAME``."""
