"""Built-in simulators of the upstream login means (DigiD, eHerkenning, eIDAS, Yivi)."""
