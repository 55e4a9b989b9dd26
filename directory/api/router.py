"""Every API controller on one router, which the app (``directory.app``) mounts beside the
web pages' router. A new controller is added here, without touching the app factory."""

from __future__ import annotations

from litestar import Router

from directory.api.claims import ClaimController
from directory.api.imports import ImportController, ProvenanceController, ReviewController
from directory.api.keys import KeyAdminController
from directory.api.listing_edits import ListingEditController
from directory.api.therapists import MatchController, TherapistController, VocabularyController
from directory.api.verification import ReportController, VerifierController

ApiRouter = Router(
    path="/",
    route_handlers=[
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
