"""The agent console: server-rendered pages under /console for contact-centre agents and admins."""

from assistant.console.routes import router

__all__ = ["router"]
