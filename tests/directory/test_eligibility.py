"""Each eligibility rule's faces agree: its index filter, its predicate and its plain words.

Listings and rule parameters are generated (hypothesis); the filter is evaluated by the
embedded index itself, so a rule whose filter and predicate drift apart fails here rather
than as a clinician who appears in search but not in matching (or, worse, the reverse).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from directory.eligibility import (
    RULES,
    AcceptingNewClients,
    AcceptsPhysicianReferrals,
    CertifiedOn,
    FloridaTitle,
    InPersonNearby,
    Listed,
    NotExcluded,
    RecentlyConfirmed,
    Rule,
    TelehealthPermitted,
    aasect_certifications,
    distance_km,
    in_force,
    sex_therapist_certifications,
    telehealth_states,
)
from directory.index import EmbeddedIndex
from directory.index.meili_filters import compile_filter
from directory.listing import CredentialSummary, IndexDocument, licensed_until
from directory.query import SearchQuery
from directory.records import LISTING_STATUSES, PRACTISING_STATUSES, Point, date_key
from directory.vocab import load_vocabulary

VOCAB = load_vocabulary()
STATES = ("MN", "WI", "IA", "NY")
CERT_KINDS = (*aasect_certifications(VOCAB), "aasect_member")
FIRST_DAY, LAST_DAY = dt.date(2024, 1, 1), dt.date(2028, 12, 31)
STATUSES = (*sorted(PRACTISING_STATUSES), "expired", "suspended", "revoked")

# Property tests check agreement, never speed; no examples database is written to the tree.
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

dates = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)
# Bounds as listings keep them: dated, or open (a start of 0 = since before records began,
# an end of 99991231 = no expiry).
start_keys = st.one_of(dates.map(date_key), st.just(0))
end_keys = st.one_of(dates.map(date_key), st.just(date_key(None)))
# Points around the upper Midwest: some near each other, some hundreds of km apart.
points = st.builds(
    Point,
    lat=st.floats(min_value=41.0, max_value=48.0, allow_nan=False),
    lon=st.floats(min_value=-97.0, max_value=-88.0, allow_nan=False),
)


def windows(keys: tuple[str, ...], bounds: st.SearchStrategy[int]) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(keys), bounds, max_size=3)


exclusion_windows = st.fixed_dictionaries(
    {
        "excluded_from": dates.map(date_key),
        "excluded_until": end_keys,
        "exclusion_waivers": st.lists(st.sampled_from(STATES), max_size=2, unique=True),
    }
)

licenses = st.builds(
    CredentialSummary,
    kind=st.just("license"),
    code=st.just("lmft"),
    state=st.sampled_from(STATES),
    status=st.sampled_from(STATUSES),
    expires=end_keys,
)


@st.composite
def listings(draw: st.DrawFn, id: str) -> IndexDocument:
    located = draw(st.lists(st.tuples(points, st.sampled_from(STATES)), max_size=3))
    credentials = draw(st.lists(licenses, max_size=3))
    licensed = licensed_until(credentials)  # as document_for derives it
    return IndexDocument(
        id=id,
        name=f"Clinician {id}",
        offers_telehealth=draw(st.booleans()),
        offers_in_person=draw(st.booleans()),
        accepting_new_clients=draw(st.booleans()),
        accepts_physician_referrals=draw(st.booleans()),
        fl_title_rule=draw(st.booleans()),
        fl_sex_therapy_qualified=draw(st.booleans()),
        # Drawn independently, so a state may have one bound and not the other.
        telehealth_from=draw(windows(STATES, start_keys)),
        telehealth_until=draw(windows(STATES, end_keys)),
        cert_kinds=sorted(draw(st.sets(st.sampled_from(CERT_KINDS), max_size=3))),
        cert_from=draw(windows(CERT_KINDS, start_keys)),
        cert_until=draw(windows(CERT_KINDS, end_keys)),
        points=[point for point, _ in located],
        point_states=[state for _, state in located],
        point_licensed_until=[licensed.get(state, 0) for _, state in located],
        states=sorted({state for _, state in located}),
        credentials=credentials,
        listing_status=draw(st.sampled_from(LISTING_STATUSES)),
        awaiting_verification=draw(st.booleans()),
        # Never excluded (the defaults), or a window drawn like any other, possibly ended.
        **draw(st.one_of(st.just({}), exclusion_windows)),
        freshness_from=draw(st.one_of(st.none(), dates.map(date_key))),
    )


@st.composite
def directories(draw: st.DrawFn) -> list[IndexDocument]:
    count = draw(st.integers(min_value=1, max_value=6))
    return [draw(listings(f"t{n}")) for n in range(count)]


certification_rules = st.one_of(
    st.builds(
        CertifiedOn,
        kinds=st.lists(st.sampled_from(CERT_KINDS), min_size=1, max_size=3, unique=True).map(tuple),
        on=dates,
    ),
    dates.map(lambda on: CertifiedOn.any_aasect(VOCAB, on)),
    dates.map(lambda on: CertifiedOn.sex_therapist(VOCAB, on)),
)

# One strategy per rule; a rule added to RULES without one fails test_every_rule_is_generated.
RULE_STRATEGIES: dict[str, st.SearchStrategy[Rule]] = {
    "telehealth": st.builds(TelehealthPermitted, state=st.sampled_from((*STATES, "CA")), on=dates),
    "certification": certification_rules,
    "in_person": st.builds(
        InPersonNearby,
        point=points,
        radius_km=st.floats(min_value=1.0, max_value=500.0, allow_nan=False),
        on=dates,
    ),
    "accepting_new_clients": st.just(AcceptingNewClients()),
    "physician_referrals": st.just(AcceptsPhysicianReferrals()),
    "listed": st.just(Listed()),
    "not_excluded": st.builds(
        NotExcluded, on=dates, state=st.one_of(st.none(), st.sampled_from(STATES))
    ),
    "recently_confirmed": st.builds(
        RecentlyConfirmed, on=dates, within_days=st.integers(min_value=0, max_value=400)
    ),
    "florida_title": st.just(FloridaTitle()),
}


def index_admits(rule: Rule, docs: list[IndexDocument]) -> set[str]:
    index = EmbeddedIndex(docs)
    hits = index.search(SearchQuery(filter=rule.filter(), limit=len(docs))).hits
    return {hit.document.id for hit in hits}


def test_every_rule_is_generated() -> None:
    assert set(RULE_STRATEGIES) == set(RULES)
    for name, rule in RULES.items():
        assert rule.name == name


@pytest.mark.parametrize("name", sorted(RULES))
@PROPERTY
@given(data=st.data())
def test_filter_and_predicate_agree(name: str, data: st.DataObject) -> None:
    rule = data.draw(RULE_STRATEGIES[name], label="rule")
    docs = data.draw(directories(), label="listings")
    held = {doc.id for doc in docs if rule.holds(doc)}
    admitted = index_admits(rule, docs)
    if type(rule).filter_is_exact:
        assert admitted == held
    else:
        # The index cannot check everything the rule asks; it may admit more, never fewer.
        assert held <= admitted


@PROPERTY
@given(rule=RULE_STRATEGIES["in_person"], docs=directories())
def test_in_person_is_a_licensed_practice_in_range(
    rule: InPersonNearby, docs: list[IndexDocument]
) -> None:
    """Both faces mean: some practice within the radius lies in a state where a license of
    the clinician's (read from the credentials themselves) is in force on the day."""

    def licensed_nearby(doc: IndexDocument) -> bool:
        return doc.offers_in_person and any(
            distance_km(rule.point, place) <= rule.radius_km
            and any(
                summary.kind == "license" and summary.state == state and in_force(summary, rule.on)
                for summary in doc.credentials
            )
            for place, state in zip(doc.points, doc.point_states, strict=True)
        )

    expected = {doc.id for doc in docs if licensed_nearby(doc)}
    assert {doc.id for doc in docs if rule.holds(doc)} == expected
    assert index_admits(rule, docs) == expected


@pytest.mark.parametrize("name", sorted(RULES))
@PROPERTY
@given(data=st.data())
def test_holds_exactly_when_there_is_no_reason_against(name: str, data: st.DataObject) -> None:
    rule = data.draw(RULE_STRATEGIES[name], label="rule")
    doc = data.draw(listings("t0"), label="listing")
    reason = rule.why_not(doc)
    assert rule.holds(doc) == (reason is None)
    if reason is not None:
        assert reason.strip() and "\n" not in reason


@pytest.mark.parametrize("name", sorted(RULES))
@settings(max_examples=20, deadline=None, database=None)
@given(data=st.data())
def test_statement_is_plain_words(name: str, data: st.DataObject) -> None:
    text = data.draw(RULE_STRATEGIES[name], label="rule").statement()
    assert isinstance(text, str) and text.strip() == text and text
    assert text[0].isupper()
    assert not any(mark in text for mark in "{}<>\n")


@pytest.mark.parametrize("name", sorted(RULES))
@settings(max_examples=20, deadline=None, database=None)
@given(data=st.data())
def test_filter_compiles_for_meilisearch(name: str, data: st.DataObject) -> None:
    compiled = compile_filter(data.draw(RULE_STRATEGIES[name], label="rule").filter())
    assert isinstance(compiled, str) and compiled


# --- a few fixed cases, as a reader would check them ----------------------------------------

ON = dt.date(2026, 6, 15)


def doc(**fields: object) -> IndexDocument:
    return IndexDocument(id="t1", name="Clinician", **fields)  # type: ignore[arg-type]


def test_telehealth_bounds_are_inclusive() -> None:
    listing = doc(
        offers_telehealth=True,
        telehealth_from={"MN": date_key(ON)},
        telehealth_until={"MN": date_key(ON), "WI": date_key(ON)},
    )
    assert TelehealthPermitted("MN", ON).holds(listing)
    assert not TelehealthPermitted("MN", ON + dt.timedelta(days=1)).holds(listing)
    assert not TelehealthPermitted("WI", ON).holds(listing)  # no start bound
    assert telehealth_states(listing, ON) == ["MN"]


def test_aasect_membership_is_not_a_certification() -> None:
    kinds = aasect_certifications(VOCAB)
    assert "aasect_member" not in kinds
    assert set(kinds) == {"aasect_cst", "aasect_cst_s", "aasect_csc", "aasect_cse"}
    member = doc(cert_from={"aasect_member": 0}, cert_until={"aasect_member": 99991231})
    assert not CertifiedOn.any_aasect(VOCAB, ON).holds(member)


def test_a_certification_rule_needs_a_kind() -> None:
    with pytest.raises(ValueError):
        CertifiedOn((), ON)


def test_in_person_needs_a_license_in_force_where_the_practice_is() -> None:
    here = Point(44.98, -93.27)

    def licence(state: str) -> CredentialSummary:
        return CredentialSummary("license", "lmft", state, "active", date_key(ON))

    def practice(states: list[str], places: list[Point], *held: str) -> IndexDocument:
        licensed = licensed_until([licence(state) for state in held])
        return doc(
            offers_in_person=True,
            points=places,
            point_states=states,
            point_licensed_until=[licensed.get(state, 0) for state in states],
        )

    far = Point(46.78, -92.10)  # Duluth, some 220 km away
    later = ON + dt.timedelta(days=1)
    cases = [
        (practice(["MN"], [here], "MN"), ON, True),
        (practice(["MN"], [here], "WI"), ON, False),
        (practice(["MN"], [here], "MN"), later, False),  # expired the day before
        # Licensed only where the far office is: the nearby one may not see clients.
        (practice(["MN", "WI"], [here, far], "WI"), ON, False),
        (practice(["WI", "MN"], [far, here], "MN"), ON, True),
    ]
    for listing, on, expected in cases:
        rule = InPersonNearby(here, 10, on)
        assert rule.holds(listing) is expected
        assert (index_admits(rule, [listing]) == {listing.id}) is expected  # the index too


def test_a_listing_marked_retired_is_not_listed() -> None:
    assert Listed().holds(doc())
    retired = doc(listing_status="retired")
    assert not Listed().holds(retired)
    assert Listed().why_not(retired) == "Not listed: the clinician has retired"


def test_a_listing_its_clinician_created_is_listed_once_a_verifier_confirms_a_license() -> None:
    waiting = doc(awaiting_verification=True)
    assert not Listed().holds(waiting)
    assert "once a verifier has confirmed one of its licenses" in str(Listed().why_not(waiting))
    shown = IndexDocument(id="shown", name="Clinician")
    hidden = IndexDocument(id="hidden", name="Clinician", awaiting_verification=True)
    assert index_admits(Listed(), [shown, hidden]) == {"shown"}


def test_a_certification_its_holder_added_certifies_nothing_until_checked() -> None:
    from directory.credentials import certification_windows
    from directory.records import Certification, Therapist, Verification

    cst = Certification(id="c1", kind="aasect_cst", origin="clinician")
    t = Therapist(id="t1", first_name="A", last_name="B", certifications=[cst])
    assert certification_windows(t, VOCAB) == {}
    checked = Verification(source="AASECT", verified_on=ON, verified_by="vera")
    t.certifications = [
        Certification(id="c1", kind="aasect_cst", origin="clinician", verification=checked)
    ]
    assert "aasect_cst" in certification_windows(t, VOCAB)
    # An imported certification without a check keeps counting, as before.
    t.certifications = [Certification(id="c1", kind="aasect_cst")]
    assert "aasect_cst" in certification_windows(t, VOCAB)


def test_an_exclusion_holds_from_its_day_until_reinstatement_unless_waived() -> None:
    excluded = doc(
        excluded_from=date_key(ON), excluded_until=date_key(None), exclusion_waivers=["WI"]
    )
    assert NotExcluded(ON - dt.timedelta(days=1), "MN").holds(excluded)
    assert not NotExcluded(ON, "MN").holds(excluded)
    assert not NotExcluded(ON, None).holds(excluded)
    assert NotExcluded(ON, "WI").holds(excluded)  # the waiver's state
    ended = doc(excluded_from=date_key(ON), excluded_until=date_key(ON))
    assert not NotExcluded(ON, "MN").holds(ended)
    assert NotExcluded(ON + dt.timedelta(days=1), "MN").holds(ended)
    assert NotExcluded(ON, None).holds(doc())  # never excluded


def test_freshness_exclusion_follows_the_request_date_not_the_index() -> None:
    confirmed = dt.date(2026, 1, 10)
    listing = doc(freshness_from=date_key(confirmed))
    days = RecentlyConfirmed.by_policy(confirmed).within_days
    assert days == 180  # directory/policy.toml
    last_day = confirmed + dt.timedelta(days=days)
    assert RecentlyConfirmed.by_policy(last_day).holds(listing)
    assert not RecentlyConfirmed.by_policy(last_day + dt.timedelta(days=1)).holds(listing)
    assert not RecentlyConfirmed.by_policy(confirmed).holds(doc())  # no clock at all


def test_a_certified_sex_therapist_is_a_cst_or_a_cst_s() -> None:
    assert sex_therapist_certifications(VOCAB) == ("aasect_cst", "aasect_cst_s")
    rule = CertifiedOn.sex_therapist(VOCAB, ON)

    def holding(kind: str, until: dt.date) -> IndexDocument:
        return doc(cert_kinds=[kind], cert_from={kind: 0}, cert_until={kind: date_key(until)})

    assert rule.holds(holding("aasect_cst", ON))
    assert rule.holds(holding("aasect_cst_s", ON))  # a supervisor is a CST
    assert not rule.holds(holding("aasect_csc", ON))  # a counselor is not a therapist
    assert not rule.holds(holding("aasect_cse", ON))  # nor is an educator
    assert not rule.holds(holding("aasect_cst", ON - dt.timedelta(days=1)))  # lapsed


def test_florida_title_needs_evidence_only_of_florida_licensees_under_the_rule() -> None:
    rule = FloridaTitle()
    assert rule.holds(doc())  # no Florida license under the rule
    assert rule.holds(doc(fl_title_rule=True, fl_sex_therapy_qualified=True))
    unproven = doc(fl_title_rule=True)
    assert not rule.holds(unproven)
    assert "491.0143" in (rule.why_not(unproven) or "")
    assert "490.0143" in (rule.caution(unproven) or "")
    assert rule.caution(doc()) is None
