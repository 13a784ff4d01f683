"""Gates: one module per kind. A gate observes and returns what it saw; the domain judges it."""
