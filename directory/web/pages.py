"""Server-rendered pages. They work without JavaScript, set no cookies and log no queries.

The app registers ``PageController``: one router holding every group of pages, so a new
group (the verifier console, for one) is added here without touching the app factory.
Page errors render as HTML through ``on_page_error``; the API keeps its JSON problems.
"""

from __future__ import annotations

from litestar import Router

from directory.web.clinician import ClinicianRouter
from directory.web.patient import PatientPages
from directory.web.referral import ReferralPages
from directory.web.render import NO_STORE, PageError, on_page_error
from directory.web.verify import VerifyRouter

PageController = Router(
    path="/",
    route_handlers=[PatientPages, ReferralPages, VerifyRouter, ClinicianRouter],
    exception_handlers={PageError: on_page_error},
    cache_control=NO_STORE,
    include_in_schema=False,
)
