"""The referral summary as a PDF, from the same ``ReferralSummary`` as the print view.

Why fpdf2: it is pure Python (no system libraries such as Cairo or Pango, unlike
WeasyPrint, and no browser, unlike HTML-to-PDF tools), small, maintained, and writes a
valid PDF from text calls in a few milliseconds. Its built-in Helvetica needs no font
files, so nothing is fetched or bundled; the cost is the Windows-1252 character set,
which ``_plain`` handles by replacing what it cannot encode instead of failing.

The PDF holds nothing about the patient beyond the referral's criteria, like the page.
"""

from __future__ import annotations

import unicodedata

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from directory.web.summary import ReferralSummary, SummaryOption, credential_line

FONT = "Helvetica"
INK = (29, 35, 48)
MUTED = (74, 82, 100)
ACCENT = (35, 80, 122)

# Characters the core fonts lack that have no decomposition to a plain letter.
REPLACEMENTS = str.maketrans(
    {
        "\u2212": "-",
        "\u2192": "->",
        "\u2713": "",
        "\u0110": "D",
        "\u0111": "d",
        "\u0141": "L",
        "\u0142": "l",
        "\u0131": "i",
    }
)


def _plain(text: str) -> str:
    """``text`` in the core fonts' character set (cp1252); unknown letters lose accents."""
    text = text.translate(REPLACEMENTS)
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out: list[str] = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            # "ặ" -> "a"; a letter with no plain form becomes "?", so a name stays readable.
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


class _SummaryPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 10, f"Sensate referral summary - page {self.page_no()}/{{nb}}", align="C")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font(FONT, "B", 12)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 7, _plain(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, size=10)


def _para(pdf: FPDF, text: str, bold: bool = False, size: int = 10) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.multi_cell(0, size / 2, _plain(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)


def _bullets(pdf: FPDF, items: list[str]) -> None:
    for item in items:
        # A bullet cell, then the text in a box beside it: wrapped lines hang under the text.
        pdf.set_x(pdf.l_margin + 2)
        pdf.cell(4, 5, "-")
        pdf.multi_cell(0, 5, _plain(item), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _option(pdf: FPDF, number: int, count: int, o: SummaryOption) -> None:
    p = o.clinician
    pdf.ln(2)
    pdf.set_draw_color(*MUTED)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(2)
    pdf.set_font(FONT, "B", 15)
    pdf.set_text_color(*INK)
    title = (f"Option {number}: " if count > 1 else "") + p.name
    title += f", {p.credentials_text}" if p.credentials_text else ""
    pdf.multi_cell(0, 7.5, _plain(title), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)
    if p.pronouns or p.practice_name:
        _para(pdf, " - ".join(x for x in (p.pronouns, p.practice_name) if x))
    if p.fictional:
        _para(pdf, "This is a fictional demo listing.", bold=True)
    _para(pdf, f"Fit {round(o.score)} out of 100. {o.concern_fit}.")
    _para(pdf, f"NPI: {o.npi or 'not listed'}")
    _para(pdf, f"Phone: {o.phone or 'not listed'}   Fax: {o.fax or 'not listed'}")
    if p.email:
        _para(pdf, f"Email: {p.email}")
    _para(pdf, f"Profile (check it before you send): {o.profile_url}")

    _heading(pdf, "Why they fit")
    _bullets(pdf, o.reasons)
    if o.ways:
        _para(pdf, "Can see the patient " + "; or ".join(o.ways) + ".")

    _heading(pdf, "Credentials, as checked")
    if o.credentials:
        _bullets(pdf, [credential_line(c) + "." for c in o.credentials])
    else:
        _para(pdf, "No credential in force is listed.")
    if not o.verified:
        _para(pdf, "No credential has been checked with its primary source recently.")

    if o.cautions:
        _heading(pdf, "Check before referring")
        _bullets(pdf, o.cautions)

    _heading(pdf, "How to contact them")
    if p.website:
        _para(pdf, f"Website: {p.website}")
    for loc in p.locations:
        a = loc.address
        lines = [loc.name, a.line1, a.line2, f"{a.city}, {a.state} {a.postal_code}", loc.phone]
        _para(pdf, ", ".join(x for x in lines if x))
    availability = "Accepting new clients" if p.accepting_new_clients else "Not taking new clients"
    confirmed = (
        f"; last confirmed {p.availability_confirmed_on}"
        if p.availability_confirmed_on
        else "; never confirmed"
    )
    _para(pdf, availability + confirmed + ".")
    if p.referral.referral_notes:
        _para(pdf, f"Referral notes: {p.referral.referral_notes}")


def summary_pdf(s: ReferralSummary) -> bytes:
    """The summary as PDF bytes: plain text on Letter pages, one section per option."""
    pdf = _SummaryPDF(format="letter")
    pdf.set_title(_plain(f"Referral summary: {s.title}"))
    pdf.set_author("Sensate")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()

    pdf.set_font(FONT, size=9)
    pdf.set_text_color(*MUTED)
    pdf.cell(
        0,
        5,
        f"Sensate referral summary, prepared {s.prepared_on}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "B", 18)
    count = len(s.options)
    heading = "Referral summary: " + (f"{count} options" if count > 1 else s.title)
    pdf.multi_cell(0, 9, _plain(heading), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)
    if count > 1:
        names = "; ".join(f"{i}. {o.clinician.name}" for i, o in enumerate(s.options, start=1))
        _para(pdf, names)

    _heading(pdf, "Before you share anything")
    _para(pdf, s.consent, bold=True)

    _heading(pdf, "The referral")
    for what, value in s.criteria:
        _para(pdf, f"{what}: {value}")
    if s.left_out:
        _para(pdf, "Left out, as they no longer meet the referral: " + ", ".join(s.left_out) + ".")

    for number, option in enumerate(s.options, start=1):
        _option(pdf, number, count, option)

    pdf.ln(4)
    pdf.set_text_color(*MUTED)
    _para(
        pdf,
        "Credentials are shown as checked on the dates given. Confirm availability when you "
        "contact the clinician. This summary contains no patient information.",
        size=8,
    )
    return bytes(pdf.output())
