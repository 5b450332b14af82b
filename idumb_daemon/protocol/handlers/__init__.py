"""Request handlers, one module per protocol area. Each is thin: structured
params in, one storage call, a contract type out."""
