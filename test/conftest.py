"""Shared pytest configuration for picam_ros."""
