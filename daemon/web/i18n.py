"""The kiosk's words in the station's language, from one gettext catalogue.

Every text of the pages is an English msgid in the templates or below
(``tools/kiosk-catalogue`` extracts and compiles them with Babel); ``locale/zh_CN`` holds
the Chinese catalogue, compiled to ``evidock.mo``.  English needs no catalogue: the msgids
are the English text.  Numbers, sizes and durations are worded by Babel for the locale.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from babel.dates import format_timedelta
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "evidock"


def _(text: str) -> str:
    """Marks a msgid for extraction; the text is translated where it is shown."""
    return text


#: words for the tile states and the reasons of daemon/tiles.py
STATE_TEXT = {
    "reading": _("Reading: do not undock"),
    "safe": _("Safe to undock"),
    "done": _("Handed over"),
    "failed": _("Failed: dock it again"),
    "unknown": _("Unknown device: not read"),
    "stopped": _("Station not running: do not undock"),
}
REASON_TEXT = {
    "undocked_early": _("It was undocked before every recording was read."),
    "read_failed": _("Some recordings could not be read from it."),
    "store_failed": _("The storage did not accept some recordings."),
    "unreadable_files": _("Some files or folders on it could not be read."),
    "device_unreadable": _("Its memory could not be opened."),
    "not_a_camera": _("This is not a camera the station knows. Ask the archivist."),
}


class Words:
    """The translations and formats of one language (``zh-CN`` or ``en``)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.locale = Locale.parse(language, sep="-")
        if language == "en":
            self.translations = NullTranslations()
        else:
            folder = language.replace("-", "_")  # zh-CN -> locale/zh_CN
            found = Translations.load(LOCALE_DIR, [folder], DOMAIN)
            if not isinstance(found, Translations):  # Babel falls back to msgids silently
                raise FileNotFoundError(
                    f"no compiled catalogue for {language} in {LOCALE_DIR}")
            self.translations = found

    def gettext(self, text: str) -> str:
        return self.translations.gettext(text)

    def state(self, key: str) -> str:
        return self.gettext(STATE_TEXT[key])

    def reason(self, key: str | None) -> str:
        return self.gettext(REASON_TEXT[key]) if key else ""

    def number(self, n: int) -> str:
        return format_decimal(n, locale=self.locale)

    def size(self, n: int | None) -> str:
        """Bytes as MB or GB (decimal: what the camera's box says), in the locale's digits."""
        if n is None:
            return ""
        for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
            if n >= scale:
                return f"{format_decimal(n / scale, '#,##0.0', locale=self.locale)} {unit}"
        return f"{self.number(n)} B"

    def rate(self, bps: int | None) -> str:
        return "" if not bps else self.gettext("%(size)s/s") % {"size": self.size(bps)}

    def duration(self, seconds: int | None) -> str:
        if seconds is None:
            return ""
        return format_timedelta(seconds, threshold=1.0, locale=self.locale)
