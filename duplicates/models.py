"""Models of the duplicates app."""
