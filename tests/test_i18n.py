"""The zh_CN catalog: complete, in step with the source, compiled, and used by the app.

When a test here fails after UI text changed, update the catalog (see README.md, "Languages"):

    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o messages.pot .
    .venv/bin/pybabel update -i messages.pot -d quiz/translations --no-fuzzy-matching
    # translate the new entries in quiz/translations/zh_Hans_CN/LC_MESSAGES/messages.po, then
    .venv/bin/pybabel compile -d quiz/translations

The catalog directory is zh_Hans_CN, not zh_CN: Babel parses the app's locale "zh_CN" into
Locale("zh", "CN", script="Hans"), whose name is "zh_Hans_CN", and Flask-Babel looks for exactly
that directory (then "zh"); a zh_CN directory is silently ignored and the UI stays English.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "quiz" / "translations"
PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"  # see the module docstring
MO = PO.with_suffix(".mo")
BABEL_CFG = ROOT / "babel.cfg"

# The same keywords as `pybabel extract -k _l -k lazy_gettext` (plus the other lazy forms).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None,
            "lazy_ngettext": (1, 2), "lazy_pgettext": ((1, "c"), 2)}

UPDATE_COMMANDS = """\
  .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o messages.pot .
  .venv/bin/pybabel update -i messages.pot -d quiz/translations --no-fuzzy-matching
  # translate the new entries in quiz/translations/zh_Hans_CN/LC_MESSAGES/messages.po, then
  .venv/bin/pybabel compile -d quiz/translations"""

# printf-style conversions: %(name)s, %d, %.1f … (%% is a literal percent sign)
PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?"       # optional mapping key
                         r"[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"  # flags, width, precision
                         r"(?P<type>[diouxXeEfFgGcrsa%])")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # CJK characters or full-width punctuation


def _placeholders(text: str) -> tuple[set[str], int]:
    """(named placeholders, number of positional ones) in a printf-style string."""
    named, positional = set(), 0
    for match in PLACEHOLDER.finditer(text):
        if match.group("type") == "%":
            continue
        if match.group("name") is not None:
            named.add(match.group(0))
        else:
            positional += 1
    return named, positional


def _forms(value) -> list[str]:
    """A msgid/msgstr as a list of strings (plural messages are tuples)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


@pytest.fixture(scope="module")
def catalog():
    assert PO.exists(), f"{PO.relative_to(ROOT)} is missing; create it with:\n{UPDATE_COMMANDS}"
    with PO.open("rb") as f:
        return read_po(f, locale="zh_CN")


def _messages(catalog):
    return [m for m in catalog if m.id]


def _translation(catalog, msgid: str) -> str:
    message = catalog.get(msgid)
    assert message is not None and message.string, f"{msgid!r} is not translated"
    return message.string


# ---------------------------------------------------------------- the catalog itself
def test_every_message_is_translated_and_not_fuzzy(catalog):
    messages = _messages(catalog)
    assert len(messages) > 100, "the catalog looks truncated"
    untranslated = [m.id for m in messages
                    if not all(s and s.strip() for s in _forms(m.string))]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not untranslated, (
        f"{len(untranslated)} messages have no Chinese translation in {PO.relative_to(ROOT)}:\n"
        + "\n".join(f"  {_forms(i)[0]!r}" for i in untranslated))
    assert not fuzzy, (
        "fuzzy entries are not used at run time; check their translations and remove `#, fuzzy`:\n"
        + "\n".join(f"  {_forms(i)[0]!r}" for i in fuzzy))
    assert not catalog.fuzzy, 'the catalog header is marked fuzzy; remove `#, fuzzy` above msgid ""'


def test_placeholders_are_kept(catalog):
    problems = []
    for message in _messages(catalog):
        ids = _forms(message.id)
        wanted_named, wanted_positional = set(), 0
        for msgid in ids:
            named, positional = _placeholders(msgid)
            wanted_named |= named
            wanted_positional = max(wanted_positional, positional)
        for msgstr in _forms(message.string):
            named, positional = _placeholders(msgstr)
            if missing := wanted_named - named:
                problems.append(f"{ids[0]!r}: the translation lacks {sorted(missing)}")
            if extra := named - wanted_named:
                problems.append(f"{ids[0]!r}: the translation has unknown {sorted(extra)}")
            if positional != wanted_positional:
                problems.append(f"{ids[0]!r}: {positional} positional placeholders, "
                                f"the msgid has {wanted_positional}")
    # Babel's own checks (python-format compatibility and the like).
    for message, errors in catalog.check():
        problems.extend(f"{_forms(message.id)[0]!r}: {error}" for error in errors)
    assert not problems, "\n".join(problems)


def test_translations_are_chinese(catalog):
    """A msgstr copied from the msgid (or left in English) is not a translation."""
    not_chinese = [m.id for m in _messages(catalog)
                   if not all(CJK.search(s) for s in _forms(m.string))]
    assert not not_chinese, "these translations contain no Chinese:\n" + "\n".join(
        f"  {_forms(i)[0]!r}" for i in not_chinese)


# ---------------------------------------------------------------- in step with the source
def _method_map() -> tuple[list[tuple[str, str]], dict]:
    try:
        from babel.messages.frontend import parse_mapping_cfg
    except ImportError:  # Babel < 2.14
        from babel.messages.frontend import parse_mapping as parse_mapping_cfg
    with BABEL_CFG.open(encoding="utf-8") as f:
        return parse_mapping_cfg(f, str(BABEL_CFG))


def test_every_source_string_is_in_the_catalog(catalog):
    method_map, options_map = _method_map()
    extracted: dict[tuple[str, str | None], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        msgid = _forms(message)[0]
        if msgid:
            extracted.setdefault((msgid, context), f"{filename}:{lineno}")
    assert len(extracted) > 100, "extraction found too few messages; is babel.cfg right?"
    missing = [(key, where) for key, where in extracted.items()
               if catalog.get(key[0], context=key[1]) is None]
    assert not missing, (
        f"{len(missing)} UI strings are not in {PO.relative_to(ROOT)}:\n"
        + "\n".join(f"  {where}: {key[0]!r}" for key, where in sorted(missing, key=lambda x: x[1]))
        + "\n\nUpdate the catalog from the repository root:\n" + UPDATE_COMMANDS)


def test_compiled_catalog_matches_the_po(catalog):
    """The committed .mo must be what `pybabel compile` makes of the .po today."""
    assert MO.exists(), (f"{MO.relative_to(ROOT)} is missing; run:\n"
                         "  .venv/bin/pybabel compile -d quiz/translations")
    with MO.open("rb") as f:
        compiled = read_mo(f)

    def frozen(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    def table(cat) -> dict:
        return {(frozen(m.id), m.context): frozen(m.string) for m in cat
                if m.id and m.string and not m.fuzzy}

    expected, actual = table(catalog), table(compiled)
    stale = sorted(str(k[0]) for k in expected.keys() ^ actual.keys()) + sorted(
        str(k[0]) for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    assert not stale, (
        f"{MO.relative_to(ROOT)} is out of date with the .po ({len(stale)} messages differ, e.g. "
        f"{stale[:3]}); run:\n  .venv/bin/pybabel compile -d quiz/translations")


# ---------------------------------------------------------------- the app uses it
def test_the_default_locale_finds_the_catalog(app):
    """Flask-Babel resolves BABEL_DEFAULT_LOCALE to this catalog (the zh_CN → zh_Hans_CN trap)."""
    from babel import Locale
    from babel.support import Translations

    locale = Locale.parse(app.config["BABEL_DEFAULT_LOCALE"])
    translations = Translations.load(str(TRANSLATIONS), [locale], "messages")
    assert isinstance(translations, Translations) and translations.files, (
        f"no catalog under {TRANSLATIONS.relative_to(ROOT)} is found for the locale "
        f"{app.config['BABEL_DEFAULT_LOCALE']!r} (Babel name {str(locale)!r}); "
        f"the directory must be "
        f"named {str(locale)!r} or {locale.language!r}")
    assert Path(translations.files[0]).resolve() == MO.resolve()


def test_chinese_by_default_and_english_on_request(client, auth, catalog):
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert 'lang="zh-CN"' in page
    assert _translation(catalog, "Question banks") in page  # 题库
    assert "Question banks" not in page and "Log out" not in page

    response = client.post("/language", data={"lang": "en", "next": "/"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    page = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in page
    assert "Question banks" in page and "Log out" in page
    assert _translation(catalog, "Log out") not in page


def test_error_pages_follow_the_language(client, catalog):
    english = "The page or item was not found."
    chinese = _translation(catalog, english)
    assert CJK.search(chinese)

    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert chinese in response.get_data(as_text=True)

    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.is_json and response.get_json() == {"error": chinese, "status": 404}

    response = client.get("/api/v1/no-such-endpoint", headers={"X-Language": "en"})
    assert response.get_json() == {"error": english, "status": 404}

    client.post("/language", data={"lang": "en", "next": "/"})
    response = client.get("/no-such-page")
    assert response.status_code == 404 and english in response.get_data(as_text=True)
