"""Phone numbers as platforms send them: the country calling code kept apart.

A number is stored as given (``number``) with its country calling code beside it
(``country_code``, ``+86``), never merged or reformatted. Masked numbers
(``138****1234``, ``*****1234``) stay exactly as sent: nothing is stripped or guessed
from them, so a masked number never turns into something that looks dialable.
"""

import re

# Calling codes of the countries the platforms sell in (ISO 3166 alpha-2 → code).
CALLING_CODES = {
    "CN": "86", "HK": "852", "TW": "886", "US": "1", "CA": "1", "GB": "44", "TH": "66",
    "MY": "60", "SG": "65", "VN": "84", "PH": "63", "ID": "62", "JP": "81", "KR": "82",
    "DE": "49", "FR": "33", "ES": "34", "IT": "39", "NL": "31", "PL": "48", "BR": "55",
    "MX": "52", "RU": "7", "AU": "61", "SA": "966", "AE": "971", "IL": "972", "TR": "90",
    "UA": "380", "CL": "56", "KZ": "7",
}  # fmt: skip
# "(+44)7700…", "(+44) 7700…", "+44 7700…", "+44-7700…": a code set apart.
PREFIX = re.compile(r"^\s*(?:\(\+(\d{1,4})\)[\s-]*|\+(\d{1,4})[\s-]+)(.*)$")
COUNTRY_CODE = re.compile(r"^\+\d{1,4}$")


def is_masked(number: str) -> bool:
    return "*" in number


def country_code_for(country: str) -> str:
    """``+44`` for ``GB``; '' for a country not in the table."""
    code = CALLING_CODES.get((country or "").upper())
    return f"+{code}" if code else ""


def normalise_country_code(value: object) -> str:
    """``86``, ``+86``, ``(+86)`` → ``+86``; '' for nothing."""
    digits = re.sub(r"[^\d]", "", str(value or ""))
    return f"+{digits}" if digits else ""


def split_phone(
    raw: object, *, country: str = "", country_code: str = ""
) -> tuple[str, str]:
    """``(country_code, number)`` of a platform's phone field.

    An explicit ``+NN`` / ``(+NN)`` prefix is split off (TikTok ``(+44)7700*****23``);
    otherwise the code given, else the one of ``country``. The number keeps its mask.
    """
    text = str(raw or "").strip()
    code = normalise_country_code(country_code)
    match = PREFIX.match(text)
    if match:
        code, text = f"+{match.group(1) or match.group(2)}", match.group(3).strip()
    elif text.startswith("+") and not is_masked(text[:5]):
        # E.164 without a separator: the country's code when it is a prefix.
        known = country_code_for(country) or code
        if known and text.startswith(known):
            code, text = known, text[len(known) :]
    if not text:
        return ("", "")
    return (code or country_code_for(country), text)


def e164(country_code: str, number: str) -> str:
    """``+8613812345678``; '' when masked or without a country code."""
    if not country_code or not number or is_masked(number):
        return ""
    digits = re.sub(r"[^\d]", "", number)
    return f"{country_code}{digits.lstrip('0') if country_code != '+39' else digits}"
