"""Regulations as data (one TOML file per municipality) and the pure time arithmetic they need."""
