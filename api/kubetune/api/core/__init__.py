"""Configuration, security and the one error mapping of the facade."""
