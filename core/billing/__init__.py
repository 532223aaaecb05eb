"""Credits: an append-only ledger per account, moved only through `core.billing.services`."""
