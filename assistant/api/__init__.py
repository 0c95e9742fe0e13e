"""The HTTP API: the app factory, its dependencies and error handling, and the routes per resource."""
