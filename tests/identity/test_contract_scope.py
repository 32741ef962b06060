"""registry:contracts (every municipality's contract details) goes to the operator, lead
parties and the procurement service, never to everyone who may read."""

from __future__ import annotations

from identity.broker.means import MACHTIGING_ROLES, READ_SCOPES, ROLE_SCOPES
from identity.clients.schemas import KNOWN_SCOPES
from identity.seed import demo_clients

CONTRACTS = "registry:contracts"


def test_roles_that_may_read_every_contract() -> None:
    assert CONTRACTS in KNOWN_SCOPES
    assert CONTRACTS not in READ_SCOPES
    holders = {role for role, scopes in ROLE_SCOPES.items() if CONTRACTS in scopes}
    assert holders == {"procurement-manager", "platform-admin"}
    assert MACHTIGING_ROLES["aanbesteding leiden"] == "procurement-manager"


def test_seed_clients_with_registry_contracts() -> None:
    clients = {client.client_id: client for client, _secret in demo_clients()}
    assert CONTRACTS in clients["samen-procurement"].allowed_scopes
    assert CONTRACTS in clients["samen-admin"].allowed_scopes
    for name in ("samen-registry", "demo-gemeente", "demo-gemeente-pkjwt", "demo-system"):
        assert CONTRACTS not in clients[name].allowed_scopes, name
