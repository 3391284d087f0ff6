"""Helpers shared by the test suites: required tools and real service processes."""
