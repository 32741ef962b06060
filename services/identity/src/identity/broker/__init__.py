"""The authentication broker: upstream means, levels of assurance, login pages."""
