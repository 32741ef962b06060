"""Cost insight: annual costs of usages against the population the operator loads."""
