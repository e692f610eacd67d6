"""Helpers of the trace panel: frame rendering (worker side), graphics items, controls."""
