"""The HTTP API: app factory, controllers, problem details."""
