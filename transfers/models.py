"""Models of the transfers app."""
