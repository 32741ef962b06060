"""Municipal buyers: enroll in a joint tender per lot, sign the mandate, withdraw."""
