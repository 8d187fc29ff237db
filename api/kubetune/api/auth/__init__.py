"""Who is calling: users in a Secret, the facade's JWTs, service-account tokens, API keys."""
