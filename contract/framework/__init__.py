"""The /v1 framework: the envelope every answer carries, strict wire fields, the base views (parse,
authenticate, call a service, answer), pagination, and the middleware that keeps /v1 JSON."""
