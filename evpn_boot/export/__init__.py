"""Pure translations of the configuration into other tools' resources."""
