"""Spiders: one config-driven news spider."""
