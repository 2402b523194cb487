"""Per-platform normalisation and SHA-256 hashing of user identifiers (email, phone, ...).

Meta, TikTok, LinkedIn and Google each match hashed user data against their own
records, and each wants the plaintext shaped slightly differently before hashing (Meta
phones have no `+`, Google drops dots from gmail addresses, ...). A hash of the wrong
shape silently never matches, so there is one normaliser per (platform, key), not one
shared hash. The rules and their sources are in docs/pii.md; "platforms.md" below is the
team's platform wire-format reference (sections 1.3, 3, 4, 5.4 and 9).

Public API (stable, used by external checks):

    normalize(platform, key, value, default_country=None) -> str | None
    normalize_with_reason(platform, key, value, default_country=None)
        -> tuple[str | None, str | None]          # (value, reason)
    hash_identifier(platform, key, value, default_country=None) -> str | None
    hash_identifier_with_reason(platform, key, value, default_country=None)
        -> tuple[str | None, str | None]          # (lowercase hex SHA-256, reason)
    simple_national_rule(default_country) -> (calling code, national prefix) | None

Contract:
- A bad *value* (wrong type, empty, huge, odd unicode, not an email, ...) never raises:
  the result is None and the `_with_reason` variants say why. Reasons never repeat the
  value, so they are safe to log and count.
- A bad *argument* the caller controls (unknown platform or key, a default_country
  that is not an ISO 3166-1 alpha-2 code) is a programming error and raises ValueError.
- A value that already is a SHA-256 (64 hex characters after trimming) passes through
  lowercased and is never hashed again. For Meta, a hash followed by a
  capi-param-builder appendix (`<64 hex>.<appendix>`) is accepted too and the bare hash
  is returned.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import unicodedata

import phonenumbers

__all__ = [
    "KEYS",
    "MAX_INPUT_CHARS",
    "PLATFORMS",
    "hash_identifier",
    "hash_identifier_with_reason",
    "normalize",
    "normalize_with_reason",
    "simple_national_rule",
]

PLATFORMS = ("meta", "tiktok", "linkedin", "google")
KEYS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "state",
    "zip",
    "country",
    "date_of_birth",
    "gender",
    "external_id",
)
# Longer input is refused before any work is done on it (an email is at most 254).
MAX_INPUT_CHARS = 1024
MAX_EMAIL_CHARS = 254
# Larger ints are not identifiers, and str() of a huge int is slow or even refused.
_MAX_INT = 10**30

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# capi-param-builder emits "<sha256>.<appendix>"; Meta accepts it (platforms.md 1.3).
_SHA256_WITH_APPENDIX = re.compile(r"([0-9a-fA-F]{64})\.[A-Za-z0-9_-]{1,32}")

Result = tuple[str | None, str | None]

# --- reference data -------------------------------------------------------------------

# ISO 3166-1 alpha-2 code, then its English short name with everything but a-z removed.
_COUNTRY_TABLE = """
ad andorra|ae unitedarabemirates|af afghanistan|ag antiguaandbarbuda|ai anguilla|al albania
am armenia|ao angola|aq antarctica|ar argentina|as americansamoa|at austria|au australia
aw aruba|ax alandislands|az azerbaijan|ba bosniaandherzegovina|bb barbados|bd bangladesh
be belgium|bf burkinafaso|bg bulgaria|bh bahrain|bi burundi|bj benin|bl saintbarthelemy
bm bermuda|bn brunei|bo bolivia|bq bonairesinteustatiusandsaba|br brazil|bs bahamas
bt bhutan|bv bouvetisland|bw botswana|by belarus|bz belize|ca canada|cc cocosislands
cd democraticrepublicofthecongo|cf centralafricanrepublic|cg congo|ch switzerland
ci cotedivoire|ck cookislands|cl chile|cm cameroon|cn china|co colombia|cr costarica|cu cuba
cv capeverde|cw curacao|cx christmasisland|cy cyprus|cz czechia|de germany|dj djibouti
dk denmark|dm dominica|do dominicanrepublic|dz algeria|ec ecuador|ee estonia|eg egypt
eh westernsahara|er eritrea|es spain|et ethiopia|fi finland|fj fiji|fk falklandislands
fm micronesia|fo faroeislands|fr france|ga gabon|gb unitedkingdom|gd grenada|ge georgia
gf frenchguiana|gg guernsey|gh ghana|gi gibraltar|gl greenland|gm gambia|gn guinea
gp guadeloupe|gq equatorialguinea|gr greece|gs southgeorgiaandthesouthsandwichislands
gt guatemala|gu guam|gw guineabissau|gy guyana|hk hongkong
hm heardislandandmcdonaldislands|hn honduras|hr croatia|ht haiti|hu hungary|id indonesia
ie ireland|il israel|im isleofman|in india|io britishindianoceanterritory|iq iraq|ir iran
is iceland|it italy|je jersey|jm jamaica|jo jordan|jp japan|ke kenya|kg kyrgyzstan
kh cambodia|ki kiribati|km comoros|kn saintkittsandnevis|kp northkorea|kr southkorea
kw kuwait|ky caymanislands|kz kazakhstan|la laos|lb lebanon|lc saintlucia|li liechtenstein
lk srilanka|lr liberia|ls lesotho|lt lithuania|lu luxembourg|lv latvia|ly libya|ma morocco
mc monaco|md moldova|me montenegro|mf saintmartin|mg madagascar|mh marshallislands
mk northmacedonia|ml mali|mm myanmar|mn mongolia|mo macao|mp northernmarianaislands
mq martinique|mr mauritania|ms montserrat|mt malta|mu mauritius|mv maldives|mw malawi
mx mexico|my malaysia|mz mozambique|na namibia|nc newcaledonia|ne niger|nf norfolkisland
ng nigeria|ni nicaragua|nl netherlands|no norway|np nepal|nr nauru|nu niue|nz newzealand
om oman|pa panama|pe peru|pf frenchpolynesia|pg papuanewguinea|ph philippines|pk pakistan
pl poland|pm saintpierreandmiquelon|pn pitcairn|pr puertorico|ps palestine|pt portugal
pw palau|py paraguay|qa qatar|re reunion|ro romania|rs serbia|ru russia|rw rwanda
sa saudiarabia|sb solomonislands|sc seychelles|sd sudan|se sweden|sg singapore
sh sainthelena|si slovenia|sj svalbardandjanmayen|sk slovakia|sl sierraleone|sm sanmarino
sn senegal|so somalia|sr suriname|ss southsudan|st saotomeandprincipe|sv elsalvador
sx sintmaarten|sy syria|sz eswatini|tc turksandcaicosislands|td chad
tf frenchsouthernterritories|tg togo|th thailand|tj tajikistan|tk tokelau|tl timorleste
tm turkmenistan|tn tunisia|to tonga|tr turkey|tt trinidadandtobago|tv tuvalu|tw taiwan
tz tanzania|ua ukraine|ug uganda|um unitedstatesminoroutlyingislands|us unitedstates
uy uruguay|uz uzbekistan|va vatican|vc saintvincentandthegrenadines|ve venezuela
vg britishvirginislands|vi usvirginislands|vn vietnam|vu vanuatu|wf wallisandfutuna
ws samoa|ye yemen|yt mayotte|za southafrica|zm zambia|zw zimbabwe
"""
# Other common spellings, folded the same way.
_COUNTRY_ALIASES = """
us usa|us unitedstatesofamerica|gb uk|gb greatbritain|gb britain|ae uae|nl holland
nl thenetherlands|cz czechrepublic|mk macedonia|sz swaziland|tr turkiye|cv caboverde
tl easttimor|va vaticancity|va holysee|kr korea|kr republicofkorea
kp democraticpeoplesrepublicofkorea|ru russianfederation|ci ivorycoast|mm burma
cd drcongo|cd drc|cd congokinshasa|cd thedemocraticrepublicofcongo
cd democraticrepublicofcongo|cg republicofthecongo|cg congobrazzaville|bs thebahamas
gm thegambia|la laopeoplesdemocraticrepublic|md republicofmoldova|sy syrianarabrepublic
tz unitedrepublicoftanzania|ir islamicrepublicofiran|ps stateofpalestine|mo macau
bn bruneidarussalam|fk falklandislandsmalvinas|cc cocoskeelingislands|vn vietnam
vi unitedstatesvirginislands|pn pitcairnislands|sx sintmaartendutchpart
mf saintmartinfrenchpart|bq caribbeannetherlands
"""


def _parse_table(table: str) -> dict[str, str]:
    """{"name": "code"} from "code name|code name" lines."""
    items = (item.split() for line in table.splitlines() for item in line.split("|"))
    return {name: code for code, name in (item for item in items if item)}


_COUNTRY_BY_NAME = _parse_table(_COUNTRY_TABLE) | _parse_table(_COUNTRY_ALIASES)
_COUNTRY_CODES = frozenset(_parse_table(_COUNTRY_TABLE).values())
_COUNTRY_CODE_ALIASES = {"uk": "gb"}

# US states, DC and territories, then Canadian provinces and territories, folded.
_STATE_TABLE = """
al alabama|ak alaska|az arizona|ar arkansas|ca california|co colorado|ct connecticut
de delaware|fl florida|ga georgia|hi hawaii|id idaho|il illinois|in indiana|ia iowa
ks kansas|ky kentucky|la louisiana|me maine|md maryland|ma massachusetts|mi michigan
mn minnesota|ms mississippi|mo missouri|mt montana|ne nebraska|nv nevada|nh newhampshire
nj newjersey|nm newmexico|ny newyork|nc northcarolina|nd northdakota|oh ohio|ok oklahoma
or oregon|pa pennsylvania|ri rhodeisland|sc southcarolina|sd southdakota|tn tennessee
tx texas|ut utah|vt vermont|va virginia|wa washington|wv westvirginia|wi wisconsin
wy wyoming|dc districtofcolumbia|pr puertorico|gu guam|vi usvirginislands
as americansamoa|mp northernmarianaislands
on ontario|qc quebec|bc britishcolumbia|ab alberta|sk saskatchewan|mb manitoba
ns novascotia|nb newbrunswick|pe princeedwardisland|nl newfoundlandandlabrador
yt yukon|nt northwestterritories|nu nunavut
"""
_STATE_BY_NAME = _parse_table(_STATE_TABLE)

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# Google: "no prefixes or suffixes" in names (platforms.md 5.4).
_NAME_PREFIXES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof"})
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})

# A phone field holds digits and the usual separators, optionally an extension.
_PHONE_SHAPE = re.compile(r"([+\d\s().\-/]++)(?:\s*(?:ext\.?|x|#)\s*\d{1,7})?", re.IGNORECASE)
_PHONE_INTERNATIONAL = re.compile(r"[\s(]*(\+|00)")
# Meta, national number and no default country: its digits without leading zeros, as
# Meta's capi-param-builder sends them; fewer than 7 or more than 15 is no phone number.
_META_NATIONAL_DIGITS = (7, 15)

_DOB_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_DOB_GROUPS = re.compile(r"([0-9]{1,4})[\s./-]+([0-9]{1,2})[\s./-]+([0-9]{1,4})")
_DOB_ISO_DATETIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[T ][0-9]{2}:[0-9]{2}.*")
_MIN_DOB = datetime.date(1900, 1, 1)

# The number types whose example numbers `simple_national_rule` checks.
_EXAMPLE_TYPES = (
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.UAN,
)

_US_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_POSTAL_CODE = re.compile(r"[a-z0-9][a-z0-9-]{1,8}[a-z0-9]")

_GENDERS = {"f": "f", "female": "f", "m": "m", "male": "m"}

# --- helpers --------------------------------------------------------------------------


def _fold(text: str) -> str:
    """ASCII letters only, lowercase: for looking names up in the tables above."""
    decomposed = unicodedata.normalize("NFKD", text).lower()
    return "".join(ch for ch in decomposed if "a" <= ch <= "z")


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "L"


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch)[0] == "C" for ch in text)


def _keep(text: str, digits: bool = False) -> str:
    """Lowercased text reduced to letters and marks (and decimal digits if asked).

    Marks are kept so that a decomposed accent stays with its letter.
    """
    out = []
    for ch in text.lower():
        category = unicodedata.category(ch)
        if category[0] in "LM" or (digits and category == "Nd"):
            out.append(ch)
    return "".join(out)


def _keep_words(text: str, digits: bool = False) -> list[str]:
    """Like _keep, per whitespace-separated word; words left empty are dropped."""
    words = (_keep(word, digits) for word in text.split())
    return [word for word in words if word]


def _as_text(value: object) -> Result:
    if value is None:
        return None, "missing value"
    if isinstance(value, bool):
        return None, "expected text, got a boolean"
    if isinstance(value, int):
        if abs(value) >= _MAX_INT:
            return None, "number too large to be an identifier"
        value = str(value)
    if not isinstance(value, str):
        return None, f"expected text, got {type(value).__name__}"
    if len(value) > MAX_INPUT_CHARS:
        return None, f"longer than {MAX_INPUT_CHARS} characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None, "not valid unicode text (lone surrogate)"
    text = value.strip()
    if not text:
        return None, "empty value"
    return text, None


def _already_hashed(platform: str, text: str) -> str | None:
    if _SHA256.fullmatch(text):
        return text.lower()
    if platform == "meta":
        match = _SHA256_WITH_APPENDIX.fullmatch(text)
        if match:
            return match.group(1).lower()
    return None


# --- rules per key --------------------------------------------------------------------


def _email(platform: str, text: str, region: str | None) -> Result:
    email = text.lower()
    if platform == "google":
        email = "".join(email.split())
    elif any(ch.isspace() for ch in email):
        return None, "email contains whitespace"
    if _has_control(email):
        return None, "email contains control or invisible characters"
    if email.count("@") != 1:
        return None, "email must contain exactly one @"
    local, domain = email.split("@")
    if not local:
        return None, "email has nothing before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        return None, "email domain must be dot-separated non-empty labels"
    if platform == "google" and domain in _GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            return None, "gmail address has no name left without dots and +tag"
        email = f"{local}@{domain}"
    if len(email) > MAX_EMAIL_CHARS:
        return None, f"email longer than {MAX_EMAIL_CHARS} characters"
    return email, None


def _phone(platform: str, text: str, region: str | None) -> Result:
    shape = _PHONE_SHAPE.fullmatch(text)
    if not shape:
        return None, "phone contains letters or symbols"
    prefix = _PHONE_INTERNATIONAL.match(text)
    if prefix and prefix.group(1) == "00":
        text = text[: prefix.start(1)] + "+" + text[prefix.end(1) :]
    elif not prefix and region is None:
        if platform == "meta":
            return _meta_national(shape.group(1))
        return None, "phone has no country code (+ or 00) and no default country is set"
    try:
        number = phonenumbers.parse(text, None if prefix or region is None else region.upper())
        valid = phonenumbers.is_valid_number(number)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return None, "not a phone number"
    except Exception:  # a library bug must not break the "never raises" contract
        return None, "not a phone number"
    if not valid:
        return None, "not a valid phone number for its country"
    # Meta: digits with country code, no "+"; the others: E.164 with "+" (platforms.md 0).
    return (e164[1:] if platform == "meta" else e164), None


def _meta_national(number: str) -> Result:
    """Meta's own rule for a number it cannot place: digits, leading zeros removed
    (capi-param-builder: `(555) 123-4567` -> `5551234567`, `0612345678` -> `612345678`)."""
    digits = "".join(str(unicodedata.decimal(ch)) for ch in number if ch.isdecimal())
    digits = digits.lstrip("0")
    low, high = _META_NATIONAL_DIGITS
    if not low <= len(digits) <= high:
        return None, f"phone without country code must have {low} to {high} digits"
    return digits, None


def _name(platform: str, text: str, region: str | None) -> Result:
    if platform == "linkedin":
        # LinkedIn takes names as plaintext in userInfo: keep them readable.
        if _has_control(text):
            return None, "name contains control or invisible characters"
        name = " ".join(text.lower().split())
    elif platform == "google":
        # Lowercase; no digits, symbols or punctuation; no Mr./Mrs./Jr. (platforms.md 5.1, 5.4).
        words = _keep_words(text)
        while len(words) > 1 and words[0] in _NAME_PREFIXES:
            words.pop(0)
        while len(words) > 1 and words[-1] in _NAME_SUFFIXES:
            words.pop()
        name = " ".join(words)
    else:
        # Meta (capi-param-builder rule, platforms.md 1.3 "Follow PB"), TikTok the same:
        # lowercase, no whitespace or punctuation, accents kept: Mary-Jane -> maryjane.
        name = _keep(text, digits=True)
    if not any(_is_letter(ch) for ch in name):
        return None, "name has no letters"
    return name, None


def _city(platform: str, text: str, region: str | None) -> Result:
    # Google sends city unhashed with its spaces (GA4 "menlo park"); the others want
    # letters only: Menlo Park -> menlopark (platforms.md 1.3).
    city = " ".join(_keep_words(text)) if platform == "google" else _keep(text)
    if not any(_is_letter(ch) for ch in city):
        return None, "city has no letters"
    return city, None


def _state(platform: str, text: str, region: str | None) -> Result:
    state = _keep(text)
    folded = _fold(state)
    if folded in _STATE_BY_NAME:
        return _STATE_BY_NAME[folded], None
    if not any(_is_letter(ch) for ch in state):
        return None, "state has no letters"
    return state, None


def _zip(platform: str, text: str, region: str | None) -> Result:
    code = "".join(text.lower().split())
    us = _US_ZIP.fullmatch(code)
    if us:
        return us.group(1), None
    if not _POSTAL_CODE.fullmatch(code):
        return None, "not a postal code (3-10 letters, digits or inner hyphens)"
    return code, None


def _country(platform: str, text: str, region: str | None) -> Result:
    folded = _fold(_keep(text))
    if len(folded) == 2:
        code = _COUNTRY_CODE_ALIASES.get(folded, folded)
        if code in _COUNTRY_CODES:
            return code, None
        return None, "not an ISO 3166-1 alpha-2 country code"
    if folded in _COUNTRY_BY_NAME:
        return _COUNTRY_BY_NAME[folded], None
    return None, "unknown country (use an ISO 3166-1 alpha-2 code)"


def _date_of_birth(platform: str, text: str, region: str | None) -> Result:
    iso = _DOB_ISO_DATETIME.fullmatch(text)
    if iso:
        text = iso.group(1)
    compact = _DOB_COMPACT.fullmatch(text)
    groups = _DOB_GROUPS.fullmatch(text)
    if compact:
        year, month, day = (int(g) for g in compact.groups())
    elif groups:
        a, b, c = groups.groups()
        if len(a) == 4 and len(c) <= 2:  # year first: 1990-01-31
            year, month, day = int(a), int(b), int(c)
        elif len(c) == 4 and len(a) <= 2:  # year last: month first unless it can't be
            year = int(c)
            month, day = (int(b), int(a)) if int(a) > 12 else (int(a), int(b))
        else:
            return None, "date of birth needs a 4-digit year first or last"
    else:
        return None, "not a date (use YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD)"
    try:
        date = datetime.date(year, month, day)
    except ValueError:
        return None, "not a real calendar date"
    if not _MIN_DOB <= date <= datetime.date.today():
        return None, "date of birth outside 1900-01-01..today"
    return date.strftime("%Y%m%d"), None


def _gender(platform: str, text: str, region: str | None) -> Result:
    gender = _GENDERS.get(text.lower())
    if gender is None:
        return None, "gender must be f, female, m or male"
    return gender, None


def _external_id(platform: str, text: str, region: str | None) -> Result:
    if _has_control(text):
        return None, "external id contains control or invisible characters"
    if platform == "meta":
        # capi-param-builder: lowercase, no whitespace (platforms.md 1.3).
        return "".join(text.lower().split()), None
    return text, None


_RULES = {
    "email": _email,
    "phone": _phone,
    "first_name": _name,
    "last_name": _name,
    "city": _city,
    "state": _state,
    "zip": _zip,
    "country": _country,
    "date_of_birth": _date_of_birth,
    "gender": _gender,
    "external_id": _external_id,
}

# --- public API -----------------------------------------------------------------------


def _check_arguments(platform: object, key: object, default_country: object) -> str | None:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    if key not in KEYS:
        raise ValueError(f"unknown key {key!r}; expected one of {', '.join(KEYS)}")
    return _check_country(default_country)


def _check_country(default_country: object) -> str | None:
    if default_country is None:
        return None
    if (
        not isinstance(default_country, str)
        or default_country.lower() not in _COUNTRY_CODES
        or not default_country.isascii()
    ):
        raise ValueError(
            f"default_country must be None or an ISO 3166-1 alpha-2 code, got {default_country!r}"
        )
    return default_country.lower()


def _normalize(
    platform: str, key: str, value: object, default_country: str | None
) -> tuple[str | None, str | None, bool]:
    """(normalised value, reason, whether the input already was a hash)."""
    region = _check_arguments(platform, key, default_country)
    if platform == "linkedin" and key == "phone":
        return None, "linkedin does not accept phone", False
    text, reason = _as_text(value)
    if text is None:
        return None, reason, False
    hashed = _already_hashed(platform, text)
    if hashed is not None:
        return hashed, None, True
    normalized, reason = _RULES[key](platform, text, region)
    return normalized, reason, False


def normalize_with_reason(
    platform: str, key: str, value: object, default_country: str | None = None
) -> tuple[str | None, str | None]:
    """(normalised value, None), or (None, why the value was refused).

    Raises ValueError only for an unknown platform or key or a bad default_country.
    """
    normalized, reason, _ = _normalize(platform, key, value, default_country)
    return normalized, reason


def normalize(
    platform: str, key: str, value: object, default_country: str | None = None
) -> str | None:
    """The value as `platform` wants it before hashing, or None if it is unusable."""
    return normalize_with_reason(platform, key, value, default_country)[0]


def hash_identifier_with_reason(
    platform: str, key: str, value: object, default_country: str | None = None
) -> tuple[str | None, str | None]:
    """(lowercase hex SHA-256 of the normalised value, None), or (None, reason).

    An input that already is a SHA-256 is returned lowercased, not hashed again.
    """
    normalized, reason, already_hashed = _normalize(platform, key, value, default_country)
    if normalized is None or already_hashed:
        return normalized, reason
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest(), None


def hash_identifier(
    platform: str, key: str, value: object, default_country: str | None = None
) -> str | None:
    """Lowercase hex SHA-256 of the normalised value, or None if it is unusable."""
    return hash_identifier_with_reason(platform, key, value, default_country)[0]


def simple_national_rule(default_country: str) -> tuple[str, str] | None:
    """(calling code, national prefix) when a national number of `default_country` becomes
    E.164 by dropping that prefix (if it starts with it) and putting the calling code in
    front, as the browser loader does without phonenumbers' metadata: `030 901820` in DE is
    `49` + `30901820`. None when that simple rule gives a wrong number for one of the
    country's example numbers (AR, BY) or phonenumbers has no data for the country (AQ).

    Raises ValueError for a default_country that is not an ISO 3166-1 alpha-2 code.
    """
    region = _check_country(default_country)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region((region or "").upper())
    if metadata is None:
        return None
    dial = str(metadata.country_code)
    prefix = metadata.national_prefix or ""
    for kind in _EXAMPLE_TYPES:
        example = phonenumbers.example_number_for_type(metadata.id, kind)
        if example is None:
            continue
        national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
        digits = "".join(ch for ch in national if ch.isdigit())
        if prefix and digits.startswith(prefix):
            digits = digits[len(prefix) :]
        if "+" + dial + digits != phonenumbers.format_number(
            example, phonenumbers.PhoneNumberFormat.E164
        ):
            return None
    return dial, prefix
