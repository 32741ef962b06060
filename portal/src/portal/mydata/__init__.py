"""Anyone logged in: which clients received which of my attributes, and when."""
