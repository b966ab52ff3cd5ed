"""Words of a keyword for embedding: folding, regional variants, and the generic modifier prior.

The lists here are generic (stop words, price, question and audience words), not per industry: the
selection itself decides which other words are modifiers (see semantic._spread_weights).
"""

from __future__ import annotations

import re
import unicodedata

MODIFIER_WEIGHT = 0.3

# Words and phrases that say who/where/why someone searches, not what about.
_MODIFIER_PHRASES = "at home|small spaces|small space|step by step|compared to|how much|free shipping"
_MODIFIER_WORDS = """a an the and or of to for in on at with without by from into about vs versus is are was be
do does did can should will would it its how what when where which who why whats best top rated cheap cheapest
affordable budget buy purchase price prices pricing cost costs sale sales deal deals discount discounts coupon
coupons review reviews rating ratings compare comparison alternative alternatives recommended popular guide
guides tip tips idea ideas tutorial tutorials example examples diy easy simple quick beginner beginners expert
mistakes avoid worth benefits pros cons meaning definition checklist list near me nearby online local shop
store stores delivery shipping order uk usa us canada australia nz ireland india europe london men women mens
womens kids children seniors adults teens students family new latest today choose choosing use using make
work works reddit"""
# Regional and spelling variants that a word-level model cannot see are the same thing.
_VARIANTS = """cafetiere=french press|coffee plunger=french press|filter coffee=drip coffee|hob=stovetop|
cooker hood=range hood|tumble dryer=clothes dryer|nappy=diaper|nappies=diapers|
pram=stroller|pushchair=stroller|aubergine=eggplant|courgette=zucchini|
beetroot=beet|spring onion=scallion|mangetout=snow peas|cling film=plastic wrap|kitchen roll=paper towels|
tin foil=aluminum foil|tea towel=dish towel|oven gloves=oven mitts|washing up liquid=dish soap|
hosepipe=garden hose|secateurs=pruning shears|strimmer=string trimmer|lawnmower=lawn mower|
dog lead=dog leash|dog jumper=dog sweater|postcode=zip code|mum=mom|maths=math|petrol=gasoline|
lorry=truck|motorway=highway|car park=parking lot|mobile phone=cell phone|estate agent=real estate agent|
current account=checking account|dustbin=trash can|rubbish bin=trash can|colour=color|flavour=flavor|
favourite=favorite|behaviour=behavior|odour=odor|mould=mold|grey=gray|tyre=tire|tyres=tires|jewellery=jewelry|
aluminium=aluminum|centre=center|litre=liter|fibre=fiber|catalogue=catalog|programme=program|yoghurt=yogurt|
doughnut=donut|fertiliser=fertilizer|moisturiser=moisturizer|organiser=organizer|sanitiser=sanitizer"""

MODIFIERS = frozenset(_MODIFIER_WORDS.split())
MODIFIER_PHRASES = tuple(tuple(p.split()) for p in _MODIFIER_PHRASES.replace("\n", "").split("|"))
VARIANTS = {tuple(k.split()): v.split() for k, v in (p.split("=") for p in _VARIANTS.replace("\n", "").split("|"))}
_LONGEST_PHRASE = max(len(p) for p in [*MODIFIER_PHRASES, *VARIANTS])
_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"\d+")


def _words(text: str) -> list[str]:
    """Lower-case words with accents folded and regional variants replaced by one spelling."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    words, out, i = _WORD.findall(folded), [], 0
    while i < len(words):
        for size in range(min(_LONGEST_PHRASE, len(words) - i), 0, -1):
            replacement = VARIANTS.get(tuple(words[i : i + size]))
            if replacement:
                out.extend(replacement)
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _word_weights(words: list[str]) -> list[float]:
    """1.0 for topic words, MODIFIER_WEIGHT for modifiers; all 1.0 when a keyword is only modifiers."""
    is_modifier = [w in MODIFIERS or bool(_NUMBER.fullmatch(w)) for w in words]
    for phrase in MODIFIER_PHRASES:
        for i in range(len(words) - len(phrase) + 1):
            if tuple(words[i : i + len(phrase)]) == phrase:
                is_modifier[i : i + len(phrase)] = [True] * len(phrase)
    if all(is_modifier):
        return [1.0] * len(words)
    return [MODIFIER_WEIGHT if m else 1.0 for m in is_modifier]
