"""Every text of the kiosk comes from the one catalogue, and the Chinese one is complete,
compiled and consistent with its placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations

WEB = Path(__file__).resolve().parents[3] / "daemon" / "web"
PO = WEB / "locale" / "zh_CN" / "LC_MESSAGES" / "evidock.po"


def extracted() -> set[str]:
    with open(WEB / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    return {m[2] for m in extract_from_dir(WEB, method_map, options_map)}


def test_every_text_of_the_pages_is_translated_in_the_chinese_catalogue():
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="zh_CN")
    texts = extracted()
    assert len(texts) > 20  # the templates and i18n.py were read
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    assert set() == texts - set(translated)
    for msgid in texts:
        assert set(re.findall(r"%\((\w+)\)s", msgid)) == set(
            re.findall(r"%\((\w+)\)s", translated[msgid])), msgid


def test_the_compiled_catalogue_is_the_catalogue():
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="zh_CN")
    compiled = Translations.load(WEB / "locale", ["zh_CN"], "evidock")
    assert isinstance(compiled, Translations)
    for m in catalog:
        if m.id:
            assert m.string == compiled.gettext(m.id), f"run tools/kiosk-catalogue ({m.id})"
