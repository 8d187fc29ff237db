"""Bearer token -> Principal: our JWTs, API keys (`kt_...`), or service-account tokens via TokenReview.

Our JWTs hold only while the user's record (watch cache) still has the id and token generation they
were issued with. Service-account tokens count only when minted for the facade's audience
(`kubectl create token <sa> --audience kubetune`): a pod's default token, whose audience is the API
server's, is refused, so mounting one does not hand out REST access. What a service account may do
is its own RBAC's business (the facade impersonates it), never a namespace-based shortcut.
"""

from __future__ import annotations

from kubetune.api.auth.principal import Principal
from kubetune.api.context import AppContext
from kubetune.api.core.errors import ApiError
from kubetune.api.core.security import InvalidTokenError, is_own_token, verify_token

API_KEY_PREFIX = "kt_"
SA_PREFIX = "system:serviceaccount:"
MAX_TOKEN_CHARS = 16 * 1024  # a service-account JWT is ~1 KiB; never send megabytes to TokenReview
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers=UNAUTHORIZED_HEADERS)


async def authenticate(ctx: AppContext, token: str | None, address: str = "unknown") -> Principal:
    """The caller behind `token`; `address` (the client's) counts tokens TokenReview refuses."""
    if not token:
        raise unauthorized("Not authenticated")
    if token.startswith(API_KEY_PREFIX):
        key = ctx.users.api_key(token)
        if key is None:
            raise unauthorized("invalid API key")
        return Principal(username=f"apikey:{key.name}", kind="apikey", is_admin=key.is_admin,
                         namespaces=frozenset(key.namespaces),
                         default_project=key.namespaces[0] if key.namespaces else "")
    if is_own_token(token):
        try:
            claims = verify_token(token, ctx.settings.jwt_secret.get_secret_value())
        except InvalidTokenError as exc:
            raise unauthorized(str(exc).capitalize()) from exc
        user = ctx.users.get(claims.subject)
        if user is None or not user.is_active:
            raise unauthorized("user unknown or inactive")
        if user.id != claims.user_id or user.token_generation != claims.generation:
            raise unauthorized("token revoked: log in again")
        return Principal(username=user.username, is_admin=user.is_admin, user_id=user.id,
                         default_project=user.default_project)
    if ctx.settings.token_review and _looks_like_jwt(token):
        throttle = ctx.users.logins.throttle
        wait = throttle.review_wait(address)
        if wait:
            raise ApiError(429, f"too many invalid tokens; try again in {wait} seconds",
                           headers={"Retry-After": str(wait)})
        audience = ctx.settings.token_audience
        review = await ctx.own_cluster.token_review(token, audiences=(audience,))  # the facade's own act
        # Asked with audiences, the API server authenticates only tokens minted for them; check the
        # answer too, so an authenticator that ignores audiences cannot widen what is accepted.
        if review.authenticated and audience in review.audiences and review.username.startswith(SA_PREFIX):
            return Principal(username=review.username, kind="serviceaccount", groups=review.groups)
        throttle.reviews.add(address)
    raise unauthorized("Could not validate credentials")


def _looks_like_jwt(token: str) -> bool:
    """Only JWT-shaped tokens go to TokenReview: random strings cost the API server nothing then."""
    return len(token) <= MAX_TOKEN_CHARS and token.count(".") == 2
