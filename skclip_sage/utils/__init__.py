"""Small shared helpers (optional dependencies)."""
