"""Surrogate PHI for the synthetic de-identification corpus (:mod:`batch.notes.deid_corpus`).

Generated with Python's own :class:`random.Random` (seeded, so the corpus is reproducible)
from the lists below: Faker, the maintained fake-data library the issue suggests, is not
installed in this environment (the lists are written in its spirit: diverse first names and
surnames, US towns, street suffixes, phone/ID formats).

Held-out names: the detector's gazetteers (:data:`batch.notes.deid.FIRST_NAMES`,
:data:`batch.notes.deid.SURNAMES`) are separate lists. The train and dev splits draw names from
the gazetteers plus the ``*_A`` lists; the test split draws ONLY from the ``*_B`` lists, none of
which is in a gazetteer, and from towns (``TOWNS_B``), streets and institutions the
train split never shows. A test name is therefore found by context and form, not by lookup.
"""

from __future__ import annotations

import random
import string

#: First names outside the detector's gazetteer, for train/dev.
FIRST_A = """
Priya Oluwaseun Mei Dmitri Siobhan Aaliyah Tomasz Ingrid Rashid Yolanda Kenji Fatima Bogdan
Lucia Esperanza Thanh Nkechi Rajesh Anneliese Callum Dolores Ezekiel Giovanna Hiroshi Imani
Jorge Katarzyna Lamar Magdalena Nikhil Oksana Pedro Rosalind Saoirse Tariq Ulrike Vikram
Wilhelmina Xiomara Yusuf Zofia Bartholomew Consuelo Desmond Eloise Fiona Gunnar Horace Isidro
""".split()

#: First names for the test split only (never in a gazetteer or in train/dev).
FIRST_B = """
Adaeze Bjorn Chidi Dagny Emeka Farida Gwendolyn Hamza Ileana Jomo Kalani Leopold Mireille
Nadia Obinna Pilar Quincy Radomir Shreya Thaddeus Ulla Vesna Wendell Ximena Yevgenia Zainab
Anatoly Beatriz Cormac Delphine Eustace Florentyna Guadalupe Hyun Ignatius Jolanta Kwame
Ludmila Marisol Niamh Osvaldo Perpetua Roisin Svetlana Tobias Valentina Winifred Yaw
""".split()

#: Surnames outside the gazetteer, for train/dev (apostrophes, hyphens, particles).
LAST_A = """
Raghunathan O'Brien Kowalczyk Nguyen-Tran D'Angelo McAllister Okonkwo Fitzgerald Abernathy
Bergström Castellanos Dubrovsky Eriksen Falkenrath Gallagher Haddad Iwasaki Jaworski Kaminski
Lindqvist Mbeki Nakamura O'Sullivan Papadopoulos Quintero Rasmussen Szymanski Takahashi
Underwood Vasquez-Ortiz Wojcik Yamamoto Zielinski MacLeod Achterberg Benedetti Cavanaugh
Delacroix Esposito Fairweather Grünewald Holloway Ibrahim Jankowski Kirkpatrick
""".split()

#: Surnames for the test split only.
LAST_B = """
Adeyemi O'Donoghue Brzezinski Chowdhury-Singh DeLuca Eszterhas Featherstonehaugh Gołębiowski
Hatzidakis Ivanova Jablonski-Reyes Kuznetsov Laszlo M'Bala Nwachukwu O'Rourke Przybylski
Quagliarello Rutkowski Santangelo Thibodeaux Uchenna Vandermeer Wroblewski Xiong Yilmaz
Zamora-Ruiz Abubakar Boateng Cienfuegos Dvorak Etxeberria Florczak Goldfarb Hernandez-Vega
Ilunga Jovanovic Kristiansen Lindgren McCreery Nakashima O'Keefe Pietrangeli Radcliffe
""".split()

STREET_NAMES_A = """
Maple Oak Elm Cedar Birch Chestnut Walnut Hawthorne Juniper Willow Sycamore Magnolia
Lincoln Franklin Jefferson Madison Harrison Prospect Summit Highland Orchard Meadow
""".split()
STREET_NAMES_B = """
Tamarack Quarry Larkspur Beacon Ridgecrest Foxglove Wheelwright Cobblestone Heron
Bayberry Millstone Kestrel Thornapple Fieldstone Marigold Sassafras
""".split()
STREET_SUFFIXES = [
    "St",
    "Street",
    "Ave",
    "Avenue",
    "Rd",
    "Road",
    "Ln",
    "Lane",
    "Dr",
    "Drive",
    "Blvd",
    "Ct",
    "Court",
    "Way",
    "Pl",
    "Terrace",
]

TOWNS_A = """
Springfield|Fall River|Worcester|Lowell|Brockton|Quincy|Lynn|New Bedford|Framingham|Haverhill
|Waltham|Malden|Medford|Taunton|Chicopee|Revere|Peabody|Methuen|Barnstable|Pittsfield
|Attleboro|Everett|Salem|Westfield|Leominster|Fitchburg|Beverly|Holyoke|Marlborough|Woburn
""".replace("\n", "").split("|")
TOWNS_B = """
Chelmsford|Billerica|Tewksbury|Dracut|Wakefield|Stoughton|Saugus|Milford|Natick|Danvers
|Hingham|Wareham|Gloucester|Amesbury|Newburyport|Ludlow|Agawam|Westborough|Shrewsbury|Easthampton
""".replace("\n", "").split("|")
STATES = ["MA", "NH", "RI", "CT", "ME", "VT", "NY", "Massachusetts", "New Hampshire"]

INST_WORDS_A = """
Mercy|St. Mary's|Good Samaritan|Riverside|Lakeview|Maple Grove|Brookside|Saint Vincent|Holy Cross
|Beth Shalom|Pine Ridge|Fairview|Sacred Heart|Hillcrest|Baystate
""".replace("\n", "").split("|")
INST_WORDS_B = """
Whispering Pines|St. Brigid's|Cranberry Hollow|Our Lady of Lourdes|Blue Heron|Kingsbridge
|Harborview|Silver Birch|Morningside|Tall Oaks
""".replace("\n", "").split("|")
HOSPITAL_SUFFIXES = [
    "Hospital",
    "Medical Center",
    "General Hospital",
    "Regional Medical Center",
    "Community Hospital",
    "Memorial Hospital",
    "Health Center",
    "Clinic",
]
NURSING_SUFFIXES = [
    "Nursing Home",
    "Nursing and Rehabilitation Center",
    "Rehab",
    "Skilled Nursing Facility",
    "Assisted Living",
    "Manor",
    "Senior Living",
    "Care Center",
    "Rehabilitation Center",
]

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DOMAINS = [
    "gmail.com",
    "yahoo.com",
    "comcast.net",
    "aol.com",
    "hotmail.com",
    "verizon.net",
    "outlook.com",
    "icloud.com",
]


def _ordinal(d: int) -> str:
    if 10 <= d % 100 <= 20:
        return f"{d}th"
    return f"{d}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th') }"


class Surrogates:
    """Surrogate values for one split: ``heldout=True`` (test) draws from the ``*_B`` lists."""

    def __init__(
        self, rng: random.Random, *, heldout: bool, gazetteer_first: list[str], gazetteer_last: list[str]
    ) -> None:
        self.r = rng
        if heldout:
            self.first = FIRST_B
            self.last = LAST_B
            self.streets = STREET_NAMES_B
            self.towns = TOWNS_B
            self.inst = INST_WORDS_B
        else:
            self.first = FIRST_A + [n.capitalize() for n in gazetteer_first]
            self.last = LAST_A + [n.capitalize() for n in gazetteer_last]
            self.streets = STREET_NAMES_A
            self.towns = TOWNS_A
            self.inst = INST_WORDS_A

    def first_name(self) -> str:
        return self.r.choice(self.first)

    def last_name(self) -> str:
        r = self.r.random()
        if r < 0.06:  # hyphenated double surname
            return f"{self.r.choice(self.last)}-{self.r.choice(self.last)}"
        return self.r.choice(self.last)

    def initial(self) -> str:
        return self.r.choice(string.ascii_uppercase)

    def date(self) -> str:
        r = self.r
        y, m, d = r.randint(2015, 2026), r.randint(1, 12), r.randint(1, 28)
        mon = MONTHS[m - 1]
        forms = [
            f"{m:02d}/{d:02d}/{y}",
            f"{m}/{d}/{y % 100:02d}",
            f"{y}-{m:02d}-{d:02d}",
            f"{mon} {d}, {y}",
            f"{mon[:3]} {d} {y}",
            f"{d} {mon[:3]} {y}",
            f"{d:02d}-{mon[:3]}-{y}",
            f"{mon} {_ordinal(d)}",
            f"{m}/{d}",
            f"{mon[:3]}. {d}",
            f"the {_ordinal(d)} of {mon}",
            f"{m:02d}-{d:02d}-{y}",
            f"{y}/{m:02d}/{d:02d}",
            f"{mon} {y}",
            f"{d} {mon} {y}",
            f"{m}.{d}.{y}",
            f"{mon[:3]}-{d}",
        ]
        return r.choice(forms)

    def age90(self) -> str:
        return str(self.r.randint(90, 104))

    def street(self) -> str:
        r = self.r
        return f"{r.randint(2, 9899)} {r.choice(self.streets)} {r.choice(STREET_SUFFIXES)}"

    def apt(self) -> str:
        r = self.r
        n = f"{r.randint(1, 40)}{r.choice(['', '', 'A', 'B', 'C'])}"
        return r.choice([f"Apt {n}", f"Apt. {n}", f"Unit {n}", f"#{n}", f"Apartment {n}"])

    def town(self) -> str:
        return self.r.choice(self.towns)

    def state(self) -> str:
        return self.r.choice(STATES)

    def zip(self) -> str:
        z = f"0{self.r.randint(1000, 2799)}"
        return z if self.r.random() < 0.8 else f"{z}-{self.r.randint(1000, 9999)}"

    def hospital(self) -> str:
        return f"{self.r.choice(self.inst)} {self.r.choice(HOSPITAL_SUFFIXES)}"

    def nursing_home(self) -> str:
        return f"{self.r.choice(self.inst)} {self.r.choice(NURSING_SUFFIXES)}"

    def phone(self) -> str:
        r = self.r
        a, b, c = r.randint(201, 989), r.randint(200, 989), r.randint(0, 9999)
        forms = [
            f"({a}) {b}-{c:04d}",
            f"{a}-{b}-{c:04d}",
            f"{a}.{b}.{c:04d}",
            f"+1 {a} {b} {c:04d}",
            f"{a}{b}{c:04d}",
            f"1-{a}-{b}-{c:04d}",
            f"({a}){b}-{c:04d}",
        ]
        p = r.choice(forms)
        if r.random() < 0.15:
            p += r.choice(
                [f" ext. {r.randint(10, 9999)}", f" x{r.randint(100, 9999)}", f" ext {r.randint(10, 999)}"]
            )
        return p

    def pager(self) -> str:
        r = self.r
        return r.choice(
            [
                str(r.randint(1000, 9999)),
                str(r.randint(10000, 99999)),
                f"{r.randint(2, 9)}-{r.randint(1000, 9999)}",
            ]
        )

    def extension_digits(self) -> str:
        return str(self.r.randint(1000, 99999))

    def mrn(self) -> str:
        r = self.r
        return r.choice(
            [
                f"{r.randint(0, 99999999):08d}",
                f"{r.randint(1000000, 9999999)}",
                f"MR{r.randint(100000, 9999999)}",
                f"{r.randint(100, 999)}-{r.randint(10, 99)}-{r.randint(10, 99)}",
            ]
        )

    def account(self) -> str:
        r = self.r
        return r.choice(
            [
                f"{r.randint(10**9, 10**10 - 1)}",
                f"A{r.randint(10**7, 10**8 - 1)}",
                f"ACC-{r.randint(100000, 999999)}",
            ]
        )

    def ssn(self) -> str:
        r = self.r
        a, b, c = r.randint(100, 899), r.randint(10, 99), r.randint(1000, 9999)
        return r.choice([f"{a}-{b}-{c}", f"{a} {b} {c}", f"{a}{b}{c}"])

    def other_id(self) -> str:
        r = self.r
        up = string.ascii_uppercase
        return r.choice(
            [
                f"{r.randint(1, 9)}{r.choice(up)}{r.choice(up)}{r.randint(0, 9)}-{r.choice(up)}{r.choice(up)}"
                f"{r.randint(0, 9)}-{r.choice(up)}{r.choice(up)}{r.randint(10, 99)}",
                f"{''.join(r.choice(up) for _ in range(3))}{r.randint(10**8, 10**9 - 1)}",
                f"W{r.randint(10**7, 10**8 - 1)}",
            ]
        )

    def serial(self) -> str:
        r = self.r
        return "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(r.randint(7, 10)))

    def email(self, first: str, last: str) -> str:
        r = self.r
        f, la = first.lower(), last.lower().replace("'", "").replace(" ", "")
        user = r.choice([f"{f}.{la}", f"{f[0]}{la}", f"{la}{r.randint(1, 99)}", f"{f}_{la}{r.randint(1, 9)}"])
        return f"{user}@{r.choice(DOMAINS)}"

    def url(self, last: str) -> str:
        r = self.r
        la = last.lower().replace("'", "").replace("-", "")
        return r.choice(
            [
                f"https://www.{la}family.org/updates",
                f"www.caringbridge.org/visit/{la}{r.randint(1, 99)}",
                f"http://{la}-photos.net/album/{r.randint(100, 999)}",
                f"https://portal.{la}health.com/p/{r.randint(1000, 9999)}",
            ]
        )

    def ip(self) -> str:
        r = self.r
        return r.choice(
            [
                f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}",
                f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            ]
        )
