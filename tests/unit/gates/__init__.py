"""Tests of the gates, against real local servers."""
