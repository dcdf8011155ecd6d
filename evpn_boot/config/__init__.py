"""Configuration: the TOML contract (model), its validation and loading."""
