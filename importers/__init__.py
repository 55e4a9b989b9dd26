"""Importers: outside formats in, domain records out.

Each format has one module with a generator that yields ``SourceRecord`` (a clinician or a
practice as that source describes it, with the facts it asserted) or ``Reject`` (a row, or
part of one, that could not be used, with the reason). One bad row never stops a file.

- ``nppes.parse_nppes``: the NPPES downloadable file (CSV or monthly ZIP), streamed;
- ``npi_registry.parse_npi_registry`` and ``npi_registry.lookup_npi``: the NPI Registry API;
- ``fhir.parse_fhir``: FHIR Plan-Net / NDH resources, Bundles and NDJSON;
- ``ndh_bulk.parse_ndh_bulk``: the National Directory's bulk NDJSON export (millions of
  resources), streamed with flat memory through a scratch index, mapped by ``fhir``;
- ``hsds.parse_hsds``: Open Referral HSDS 3.0 JSON and CSV packages (practices only);
- ``roster.parse_roster`` with ``roster.load_mapping``: rosters and license-board exports
  (CSV/XLSX) described by a column-mapping file.

``base`` holds the shared records and the import report; ``normalize`` the value cleaners.

Writing to the store: ``apply.run_import`` drives parse → resolve (``resolve``: who is
this?) → merge (``merge``: field by field, by the source trust in ``trust.toml``, with
provenance) → one store transaction per batch. ``cli`` is what `sensate import` and
`sensate npi lookup` run.
"""
