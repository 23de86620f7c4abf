"""Writes explorer/data/ner_sentences.csv: the tagged sentences the NER page fine-tunes on.

Run ``python explorer/data/ner_generate.py`` (deterministic: seed 7). Each sentence is written with
inline marks, ``[Maria Lopez](PER) flew to [Lisbon](LOC).``; the marks become IOB2 tags on words
split like CoNLL-2003 (punctuation apart). Splits:

- train / validation: templates filled from the TRAIN name pools;
- test: the same kind of templates filled from the TEST pools, which share no name (not even a
  first name, a surname or a word of a place) with the train pools: no entity string of the
  held-out sentences was ever seen in training;
- natural: about 40 everyday sentences written by hand (not from templates), held out too.

The CSV has one sentence per row: ``split``, ``tokens`` (words separated by single spaces) and
``tags`` (one IOB2 tag per word, separated by single spaces) — the same format a user uploads.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

SEED = 7
COUNTS = {"train": 520, "validation": 80, "test": 120}

TRAIN_POOLS = {
    "FIRST": """Maria James Aisha Tomasz Priya Lucas Emma Kenji Fatima Oliver Sofia Daniel Chloe Mateo
        Hannah Ravi Elena Samuel Grace Omar Ingrid Pablo Nadia Victor Leah Hugo Amara Felix Rosa Ivan""",
    "LAST": """Lopez Okafor Schmidt Tanaka Novak Patel Brennan Moreau Haddad Lindqvist Costa Fischer
        Nguyen Kowalski Rossi Mensah Carter Dubois Alvarez Sato Byrne Jensen Kaya Petrov Silva Walsh""",
    "CITY": """Lisbon|Nairobi|Toronto|Krakow|Osaka|Marseille|Dublin|Buenos Aires|Melbourne|Oslo|Cairo|
        Hamburg|Seattle|Porto|Lagos|Valencia|Edinburgh|Kyoto|San Diego|Helsinki|Accra|Bologna|Denver|
        Gdansk|Lima|Bristol|Manila|Tunis""",
    "COUNTRY": """Portugal|Kenya|Canada|Poland|Japan|Ireland|Norway|Egypt|Ghana|Peru|Finland|Chile|
        Scotland|Vietnam|Morocco|New Zealand|Austria|Brazil""",
    "PLACE": """the Alps|the Nile|Lake Geneva|the Sahara|the Danube|Mount Kenya|the Andes|the Rhine""",
    "ORG": """Red Cross|Oxfam|Siemens|the United Nations|Nokia|Unilever|Greenpeace|Toyota|the BBC|
        Amnesty International|Heineken|Airbus|the World Bank|Spotify|Interpol|Lufthansa|Nestle|
        the Bank of England|Shell|Reuters|IKEA|the Red Sox|Harvard University|Ajax""",
    "COMPANY": """Siemens|Nokia|Unilever|Toyota|Heineken|Airbus|Spotify|Lufthansa|Nestle|Shell|IKEA|
        Ericsson|Philips|Renault""",
    "TEAM": """Ajax|the Red Sox|Celtic|Benfica|the Lakers|Arsenal""",
    "NATIONALITY": """Portuguese|Kenyan|Canadian|Polish|Japanese|Irish|Norwegian|Egyptian|Brazilian|
        Chilean|Finnish|Austrian""",
    "LANGUAGE": """Portuguese|Swahili|Polish|Japanese|Norwegian|Arabic|Finnish|Tagalog""",
    "GAMES": """the Olympic Games|the World Cup|the Tour de France|Wimbledon|the Commonwealth Games|
        the Boston Marathon""",
    "FESTIVAL": """Ramadan|Oktoberfest|Diwali|Christmas|Easter|Chinese New Year""",
}
TEST_POOLS = {
    "FIRST": """Yusuf Ingeborg Matteo Keiko Dmitri Aaliyah Bjorn Lucia Kwame Marguerite Ravindra Zofia
        Tariq Astrid Emeka Paloma""",
    "LAST": """Herrera Yamamoto Adeyemi Kristiansen Mancini Oyelaran Vasquez Lehmann Chowdhury Dunne
        Szabo Abara Ferreira Holm""",
    "CITY": """Montreal|Hanoi|Seville|Bergen|Kampala|Antwerp|Adelaide|Bratislava|Quito|Glasgow|
        Nagoya|Casablanca|Pittsburgh|Lyon""",
    "COUNTRY": """Uganda|Belgium|Slovakia|Ecuador|Hungary|Senegal|Denmark|Colombia|Tanzania""",
    "PLACE": """the Amazon|Mount Fuji|the Pyrenees|the Gobi Desert""",
    "ORG": """Doctors Without Borders|Volvo|Samsung|the European Central Bank|Oxford University|
        UNICEF|Boeing|Carlsberg|the Associated Press|Adidas|Juventus|the Chicago Bulls""",
    "COMPANY": """Volvo|Samsung|Boeing|Carlsberg|Adidas|Lego|Canon|Zara""",
    "TEAM": """Juventus|the Chicago Bulls|Feyenoord|Olympiacos""",
    "NATIONALITY": """Belgian|Hungarian|Danish|Colombian|Ugandan|Senegalese""",
    "LANGUAGE": """Hungarian|Danish|Wolof|Vietnamese""",
    "GAMES": """the Super Bowl|the Giro d'Italia|the Ryder Cup|the Asian Games""",
    "FESTIVAL": """Hanukkah|Carnival|Passover|Holi""",
}
# Which tag each pool's names carry.
POOL_TAG = {
    "CITY": "LOC", "COUNTRY": "LOC", "PLACE": "LOC",
    "ORG": "ORG", "COMPANY": "ORG", "TEAM": "ORG",
    "NATIONALITY": "MISC", "LANGUAGE": "MISC", "GAMES": "MISC", "FESTIVAL": "MISC",
}  # fmt: skip

# {PER} a full name, {FIRST} a first name alone, {LAST} a surname alone, {CITY}, {COUNTRY}, ...
TEMPLATES = """\
{PER} moved to {CITY} last spring.
{PER} works as a nurse for {ORG} in {CITY}.
After ten years at {COMPANY}, {PER} opened a bakery in {CITY}.
{COMPANY} announced on Monday that it will close its factory in {CITY}.
The flight from {CITY} to {CITY} was delayed by three hours.
{FIRST} and {FIRST} drove across {COUNTRY} in an old van.
Have you ever been to {CITY}?
My cousin {FIRST} is studying {LANGUAGE} at a night school.
{PER}, a spokesperson for {ORG}, declined to comment.
According to {ORG}, prices in {COUNTRY} rose sharply this year.
{TEAM} beat {TEAM} two goals to one on Saturday.
We watched {GAMES} at a friend's house.
The {NATIONALITY} government has appointed {PER} as its new ambassador to {COUNTRY}.
Dr. {LAST} said the results from the {CITY} clinic were encouraging.
She met {FIRST} at a conference in {CITY}.
{PER} has signed a two-year contract with {TEAM}.
Ask {FIRST} whether the report from {ORG} has arrived.
Thousands of tourists visit {PLACE} every summer.
The train to {CITY} leaves from platform four.
{PER} grew up near {PLACE} before moving to {COUNTRY}.
Shares of {COMPANY} fell after the chief executive, {PER}, resigned.
I bought a {NATIONALITY} cookbook for my sister.
The report was written by {PER} and {PER}.
{ORG} is sending food and water to {COUNTRY}.
Mr. {LAST} will teach {LANGUAGE} to the new volunteers.
Last year {GAMES} took place in {CITY}.
{FIRST} told me that {COMPANY} is hiring engineers in {CITY}.
Our hotel in {CITY} had a view of {PLACE}.
Are you flying to {COUNTRY} for {FESTIVAL}?
The museum in {CITY} has a room full of {NATIONALITY} paintings.
{PER} joined {ORG} straight out of university.
The mayor of {CITY}, {PER}, opened the new bridge.
When {FIRST} lived in {CITY}, she cycled everywhere.
A {NATIONALITY} engineer, {PER}, designed the stadium in {CITY}.
{COMPANY} and {COMPANY} are planning a joint venture in {COUNTRY}.
Please send the invoice to {PER} at {COMPANY}.
{FIRST} speaks {LANGUAGE} with her grandmother.
The storm hit {CITY} late on Tuesday night.
My neighbour {PER} used to play for {TEAM}.
The concert in {CITY} raised money for {ORG}.
{PER} won a silver medal at {GAMES}.
They spent their honeymoon in {COUNTRY} and {COUNTRY}.
Is {FIRST} still working at {COMPANY}?
Negotiations between {ORG} and the {NATIONALITY} ministry broke down.
In {CITY}, {PER} runs a small bookshop.
The documentary follows {PER} on a walk along {PLACE}.
{LAST} scored twice in the second half for {TEAM}.
Tickets for {GAMES} sold out in an hour.
According to {PER}, the bridge in {CITY} needs urgent repairs.
We took a ferry from {CITY} to {CITY}.
I think {FIRST} would enjoy a weekend in {CITY}.
The new {COMPANY} store in {CITY} opens next week.
{PER} translated the novel from {LANGUAGE}.
Volunteers from {ORG} arrived in {CITY} on Friday.
Professor {LAST} studies the history of {COUNTRY}.
The meeting was moved to Thursday afternoon.
Could you bring the blue folder to the kitchen?
It rained all weekend, so we stayed inside and played cards.
The bakery on the corner sells the best bread in town.
My brother fixed the bike with a borrowed wrench.
{FIRST} always visits her parents during {FESTIVAL}.
"""

NATURAL = """\
[Anneliese Kuhn](PER) called from [Vienna](LOC) this morning.
Can you pick up [Jorge](PER) from the station at six?
We're flying [Icelandair](ORG) to [Reykjavik](LOC) in March.
My sister works for [Barclays](ORG) now.
The kids loved the [Natural History Museum](LOC) in [Berlin](LOC).
[Tobias](PER) says the [Manchester United](ORG) game starts at eight.
I left my umbrella at [Priyanka](PER)'s place.
Did you see that [Tesla](ORG) is opening a plant near [Monterrey](LOC)?
Grandma still talks about her trip to [Sicily](LOC).
Our landlord, Mr. [Okonkwo](PER), finally fixed the heating.
The [Mexican](MISC) restaurant on our street closed down.
[Ruth](PER) and I are learning [Italian](MISC) together.
Let's meet outside [Central Station](LOC) at noon.
The package from [Amazon](ORG) arrived a day late.
[Wen Li](PER) got a job at [Microsoft](ORG) in [Vancouver](LOC)!
We watched the [Eurovision Song Contest](MISC) with pizza.
[Hamid](PER) is driving down from [Leeds](LOC) tomorrow.
The [Salvation Army](ORG) collects old coats every winter.
My phone keeps losing signal on the way to [Brighton](LOC).
I've never tasted [Ethiopian](MISC) coffee this good.
Tell Grandpa [Joe](PER) the plumber is coming on Tuesday.
The [Tokyo](LOC) office sends its reports on Fridays.
Is [Harrods](ORG) open on Sundays?
[Ingrid Bergstrom](PER) from accounts wants the receipts by Monday.
We hiked up [Ben Nevis](LOC) in the fog.
The [Yankees](ORG) lost again last night.
My dentist, Dr. [Adebayo](PER), moved her practice to [Croydon](LOC).
I ordered the [Thai](MISC) curry and [Lena](PER) had the soup.
The [Louvre](LOC) was packed, so we went to a café instead.
[Starbucks](ORG) on the high street is closed for repairs.
The heating bill came in higher than last winter.
Don't forget to water the plants while I'm away.
Our neighbour's dog barked all night again.
[Carlos](PER) sent photos from his holiday in [Crete](LOC).
The [Guardian](ORG) ran a long piece about the flooding in [Bangladesh](LOC).
Can we do [Thanksgiving](MISC) at your place this year?
[Pierre Laurent](PER) teaches [French](MISC) at the community centre.
I'm taking the early bus to [Cambridge](LOC) on Thursday.
The [FIFA](ORG) rules changed again this season.
[Mum](O) wants us home before dinner.
"""

_WORD = re.compile(r"[\w'’-]+|[^\w\s]")
_MARK = re.compile(r"\[([^\]]+)\]\((PER|ORG|LOC|MISC|O)\)")


def words_of(text: str) -> list[str]:
    """CoNLL-style words: letters, digits, apostrophes and hyphens together; punctuation apart.
    'Dr.' and 'Mr.' keep their full stop (as CoNLL-2003 writes them)."""
    found = _WORD.findall(text)
    out: list[str] = []
    for word in found:
        if word == "." and out and out[-1] in ("Dr", "Mr", "Mrs", "Ms"):
            out[-1] += "."
        else:
            out.append(word)
    return out


def tagged(marked: str) -> tuple[list[str], list[str]]:
    """Words and IOB2 tags of a sentence with inline marks."""
    tokens, tags, position = [], [], 0
    for match in _MARK.finditer(marked):
        before = words_of(marked[position : match.start()])
        tokens += before
        tags += ["O"] * len(before)
        words, kind = words_of(match.group(1)), match.group(2)
        tokens += words
        tags += ["O"] * len(words) if kind == "O" else [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        position = match.end()
    rest = words_of(marked[position:])
    return tokens + rest, tags + ["O"] * len(rest)


def _pools(raw: dict[str, str]) -> dict[str, list[str]]:
    split = {k: [w.strip() for w in re.split(r"\||\s{2,}|\n", v) if w.strip()] for k, v in raw.items()}
    for key in ("FIRST", "LAST"):
        split[key] = raw[key].split()
    return split


def _mark(name: str, tag: str) -> str:
    """Inline mark for a name; a leading 'the' stays outside the entity (as in CoNLL-2003)."""
    if name.startswith("the "):
        return f"the [{name[4:]}]({tag})"
    return f"[{name}]({tag})"


def fill(template: str, pools: dict[str, list[str]], rng: random.Random) -> str:
    """A template with every slot replaced by a marked name from ``pools`` (a slot used twice in
    one sentence gets two different names)."""
    used: set[str] = set()

    def pick(key: str) -> str:
        choices = [c for c in pools[key] if c not in used]
        choice = rng.choice(choices)
        used.add(choice)
        return choice

    def one(match: re.Match) -> str:
        key = match.group(1)
        if key == "PER":
            return f"[{pick('FIRST')} {pick('LAST')}](PER)"
        if key in ("FIRST", "LAST"):
            return f"[{pick(key)}](PER)"
        return _mark(pick(key), POOL_TAG[key])

    marked = re.sub(r"\{(\w+)\}", one, template)
    # "the [Red Sox]" at a sentence start: capital T; "the the": never (templates avoid it)
    return marked[0].upper() + marked[1:]


def rows() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    templates = [t for t in TEMPLATES.splitlines() if t.strip()]
    out: list[dict[str, str]] = []
    for split, count in COUNTS.items():
        pools = _pools(TEST_POOLS if split == "test" else TRAIN_POOLS)
        seen: set[str] = set()
        while len([r for r in out if r["split"] == split]) < count:
            marked = fill(rng.choice(templates), pools, rng)
            if marked in seen:
                continue
            seen.add(marked)
            tokens, tags = tagged(marked)
            out.append({"split": split, "tokens": " ".join(tokens), "tags": " ".join(tags)})
    for line in NATURAL.splitlines():
        if line.strip():
            tokens, tags = tagged(line)
            out.append({"split": "natural", "tokens": " ".join(tokens), "tags": " ".join(tags)})
    return out


def main() -> None:
    target = Path(__file__).with_name("ner_sentences.csv")
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["split", "tokens", "tags"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
