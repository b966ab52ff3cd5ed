"""Header recognition: which column holds which field, from the names keyword tools give them."""

from __future__ import annotations

import re
import unicodedata

from app.services.planner.cells import _CURRENCY_CODES, _CURRENCY_SYMBOLS, _currency_code

FIELDS = ("keyword", "volume", "difficulty", "cpc", "intent")
FIELD_LABELS = {
    "keyword": "Keyword",
    "volume": "Search volume",
    "difficulty": "Keyword difficulty (0–100)",
    "cpc": "CPC",
    "intent": "Search intent",
}

NO_KEYWORD_COLUMN = ("No keyword column was found. We looked for a column named keyword, query or term; "
                     "choose it in the mapping.")


_SYNONYMS = {  # in order of preference
    "keyword": ("keyword", "keywords", "query", "queries", "search query", "search queries", "top queries",
                "term", "terms", "search term", "search terms", "keyword phrase", "key phrase", "keyphrase",
                "phrase", "kw"),
    "volume": ("volume", "search volume", "avg monthly searches", "average monthly searches", "monthly volume",
               "monthly searches", "monthly search volume", "avg search volume", "average search volume",
               "msv", "sv", "searches", "local monthly searches", "global monthly searches", "global volume"),
    "difficulty": ("keyword difficulty", "difficulty", "kd", "keyword difficulty index", "seo difficulty",
                   "kw difficulty", "ranking difficulty"),
    "cpc": ("cpc", "avg cpc", "average cpc", "cost per click", "suggested bid",
            # Keyword Planner has no CPC; the high top-of-page bid is the closest figure.
            "top of page bid high range"),
    "intent": ("intent", "intents", "search intent", "keyword intent", "user intent", "intent type"),
}
# The same columns in German, French, Spanish, Italian, Dutch and Portuguese exports (Keyword Planner,
# Semrush, Ahrefs, Sistrix…), written as _header_name leaves them: lower case, accents and punctuation gone.
_LOCALISED = {
    "keyword": ("suchbegriff", "suchbegriffe", "schlusselwort", "schlusselworter", "suchanfrage", "suchanfragen",
                "mot cle", "mots cles", "requete", "requetes", "expression cle",
                "palabra clave", "palabras clave", "consulta", "consultas", "termino de busqueda",
                "parola chiave", "parole chiave", "query di ricerca", "termine di ricerca",
                "zoekwoord", "zoekwoorden", "zoekterm", "zoektermen", "zoekopdracht",
                "palavra chave", "palavras chave", "termo de pesquisa", "termo de busca",
                # Search Console's "Top queries" column in the same languages
                "haufigste suchanfragen", "requetes les plus frequentes", "principales requetes", "consultas principales",
                "query piu frequenti", "query principali", "populairste zoekopdrachten", "principais consultas"),
    "volume": ("suchvolumen", "monatliches suchvolumen", "durchschnittliche suchanfragen pro monat",
               "durchschn suchanfragen pro monat", "durchschnittl suchanfragen pro monat", "suchanfragen pro monat",
               "volume de recherche", "volume de recherches", "volume mensuel", "recherches mensuelles moyennes",
               "nombre moyen de recherches mensuelles",
               "volumen de busqueda", "volumen de busquedas", "volumen", "busquedas mensuales",
               "promedio de busquedas mensuales",
               "volume di ricerca", "volume mensile", "ricerche mensili", "ricerche mensili medie",
               "media delle ricerche mensili",
               "zoekvolume", "maandelijks zoekvolume", "gem zoekopdrachten per maand",
               "gemiddeld aantal zoekopdrachten per maand",
               "volume de pesquisa", "volume de busca", "pesquisas mensais", "media de pesquisas mensais"),
    "difficulty": ("keyword schwierigkeit", "schwierigkeit", "keyword difficulty",
                   "difficulte", "difficulte du mot cle", "difficulte mot cle",
                   "dificultad", "dificultad de palabra clave", "dificultad de la palabra clave",
                   "difficolta", "difficolta parola chiave", "difficolta della parola chiave",
                   "moeilijkheid", "zoekwoordmoeilijkheid", "keyword moeilijkheid",
                   "dificuldade", "dificuldade da palavra chave", "dificuldade de palavra chave"),
    "cpc": ("kosten pro klick", "cpc durchschnitt", "cout par clic", "cpc moyen", "coste por clic",
            "costo por clic", "cpc promedio", "costo per clic", "cpc medio", "kosten per klik",
            "gemiddelde cpc", "custo por clique"),
    "intent": ("suchintention", "intention", "absicht", "intention de recherche", "intencion",
               "intencion de busqueda", "intento", "intento di ricerca", "intenzione di ricerca", "intentie",
               "zoekintentie", "intencao", "intencao de pesquisa", "intencao de busca"),
}
_SYNONYMS = {fld: names + _LOCALISED[fld] for fld, names in _SYNONYMS.items()}
_HEADER_WORDS = {name: fld for fld, names in _SYNONYMS.items() for name in names}
_CURRENCY_HEADERS = ("currency", "currency code", "wahrung", "devise", "moneda", "valuta", "moeda")
# Words in a header that say "this is a search volume", in any of the languages above.
VOLUME_HINTS = ("volume", "volumen", "search", "suche", "such", "recherche", "busqueda", "ricerc", "zoek",
                "pesquisa", "busca", "msv")
_HEADER_CURRENCY_RE = re.compile(r"[(\[]\s*([^()\[\]]{1,4}?)\s*[)\]]")
_NON_ALNUM_RE = re.compile(r"[\W_]+")


def _header_name(cell: str) -> tuple[str, str | None]:
    """Normalised header name and the currency it names, if any: "CPC (USD)" -> ("cpc", "USD")."""
    text = unicodedata.normalize("NFKC", cell).strip().strip("\ufeff")
    currency = None
    match = _HEADER_CURRENCY_RE.search(text)
    if match and _currency_code(match.group(1)):
        currency = _currency_code(match.group(1))
        text = text[:match.start()] + text[match.end():]
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    name = " ".join(_NON_ALNUM_RE.sub(" ", folded).split())
    words = name.split()
    if currency is None and len(words) > 1 and words[-1].upper() in _CURRENCY_CODES:
        currency, name = words[-1].upper(), " ".join(words[:-1])
    if currency is None:
        for symbol, code in _CURRENCY_SYMBOLS.items():  # "CPC, $" / "CPC €"
            if len(symbol) == 1 and symbol in text:
                currency = code
                break
    return name, currency


def _recognised(row: list[str]) -> set[str]:
    found = set()
    for cell in row:
        name = _header_name(cell)[0] if len(cell) < 80 else ""
        if name in _HEADER_WORDS:
            found.add(_HEADER_WORDS[name])
    return found


def _guess_mapping(columns: list[str]) -> tuple[dict[str, int | None], int | None]:
    names = [_header_name(c)[0] for c in columns]
    mapping: dict[str, int | None] = {}
    taken: set[int] = set()
    for fld in FIELDS:
        mapping[fld] = None
        for synonym in _SYNONYMS[fld]:
            index = next((i for i, n in enumerate(names) if n == synonym and i not in taken), None)
            if index is not None:
                mapping[fld] = index
                taken.add(index)
                break
    currency_column = next((i for i, n in enumerate(names) if n in _CURRENCY_HEADERS), None)
    return mapping, currency_column
