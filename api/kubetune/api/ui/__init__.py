"""The web dashboard (`/ui`) and the offline API docs (`/docs`, `/redoc`): static files shipped in the package.

No build step and no CDN: the dashboard is plain HTML, JS and CSS under static/; it logs in through
POST /api/v1/auth/token and calls the same REST routes as any client, so it adds no authority of its own.
"""

from kubetune.api.ui.routes import install

__all__ = ["install"]
