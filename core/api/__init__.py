"""The public API (/api/v1/): separations, downloads, the account, keys and callbacks."""
