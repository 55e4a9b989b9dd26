"""Every API controller on one router, which the app (``directory.app``) mounts beside the
web pages' router. A new controller is added here, without touching the app factory."""

from __future__ import annotations

from litestar import Request, Response, Router, route
from litestar.enums import HttpMethod
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT

from directory.api.claims import ClaimController
from directory.api.imports import ImportController, ProvenanceController, ReviewController
from directory.api.keys import KeyAdminController
from directory.api.listing_edits import ListingEditController
from directory.api.therapists import MatchController, TherapistController, VocabularyController
from directory.api.verification import ReportController, VerifierController

# Paths served by more than one controller (the public profile's GET and the verifiers' PATCH).
# Litestar 2 answers OPTIONS on such a path with the Allow of the first controller that
# registered it (litestar-org/litestar#4169, fixed only in v3), so these paths get this one
# handler, registered before the controllers, which reads the methods of the whole route.
SHARED_PATHS = ["/api/v1/therapists/{therapist_id:str}"]


@route(
    SHARED_PATHS, http_method=[HttpMethod.OPTIONS], include_in_schema=False, sync_to_thread=False
)
def allow_every_method(request: Request) -> Response[None]:
    """The methods every controller registered for this path, as Litestar 3 answers."""
    template = request.scope["path_template"]
    methods = next(
        found.methods
        for found in request.app.routes
        if isinstance(found, HTTPRoute) and found.path_format == template
    )
    return Response(
        content=None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": ", ".join(sorted(methods))}
    )


ApiRouter = Router(
    path="/",
    route_handlers=[
        allow_every_method,
        TherapistController,
        MatchController,
        VocabularyController,
        ImportController,
        ReviewController,
        ProvenanceController,
        VerifierController,
        ReportController,
        ListingEditController,
        KeyAdminController,
        ClaimController,
    ],
)
