"""Admin console (see issue: the operators console)."""
