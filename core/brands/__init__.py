"""Brands: one code path, several branded sites chosen by the request's host."""
