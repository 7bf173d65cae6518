"""Staging models."""
