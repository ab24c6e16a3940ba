"""Adapters: implementations of the ports over concrete technologies."""
