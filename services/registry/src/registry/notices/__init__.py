"""Contract ends as decision moments: events when a usage's notice deadline comes near."""
