#!/usr/bin/env python3
"""Generate ``demo_corpus.txt``, the small English corpus built into the app.

The sentences come from a hand-written grammar of simple everyday English:
people and animals, family, food and drink, home, school and work, days,
times, numbers, colours, the weather, questions and bits of dialogue. The
corpus is small on purpose (a few thousand sentences over a vocabulary of
under 240 words, punctuation included) and strongly patterned, so that the
4-gram model, trained on it for a minute or two, learns next-word predictions
that make sense: "i want to" -> a verb, "on the" -> a noun, "what time is" ->
"it".

Format: one sentence per line, lower case, tokens separated by single spaces,
punctuation and clitics as tokens of their own, e.g.::

    the dog did n't want to go home .
    what time does your sister get up ?

Run it with Python 3.10 or later (standard library only)::

    python assets/make_demo_corpus.py

It writes ``demo_corpus.txt`` next to itself and prints statistics. The output
depends only on ``SEED`` and ``N_SENTENCES``: every run writes the same bytes.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

SEED = 1986
N_SENTENCES = 6000
MAX_REPEATS = 10  # no sentence may appear more often than this
OUTPUT = Path(__file__).resolve().parent / "demo_corpus.txt"

# ---------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------

NAMES = {"john": "he", "tom": "he", "mary": "she", "anna": "she"}
# Singular people, with the pronoun that refers back to them (None: either).
FAMILY = {"mother": "she", "father": "he", "sister": "she", "brother": "he",
          "friend": None}
PEOPLE = {"man": "he", "woman": "she", "boy": "he", "girl": "she",
          "teacher": None, "doctor": None}
PEOPLE_PL = ["children", "people"]            # "the children", "my friends"

ANIMALS = ["dog", "cat", "bird"]
ANIMALS_PL = ["dogs", "cats", "birds"]

FOOD = ["bread", "soup", "fish", "cake"]      # "some bread", "the cake"
FOOD_COUNT = ["apple", "egg"]                 # "an apple", "two eggs"
FOOD_COUNT_PL = ["apples", "eggs"]
DRINKS = ["milk", "tea", "coffee", "water"]

THINGS = ["book", "ball", "car", "bag"]
FURNITURE = ["table", "bed", "floor"]         # "on the ..."
ROOMS = ["garden", "house", "room"]           # "in the ..."

COLOURS = ["red", "blue", "green", "white", "black", "yellow"]
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight",
           "nine", "ten"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
        "sunday"]

FEELINGS = ["happy", "sad", "tired", "hungry", "cold", "hot", "fine"]
SIZES = ["big", "small", "old", "new", "nice"]
TASTES = ["hot", "cold", "good", "nice", "bad"]
WEATHER = ["cold", "hot", "warm", "sunny", "nice", "bad"]

POSSESSIVES = ["my", "your", "his", "her", "our", "their"]
OBJECT_PRONOUNS = ["me", "you", "him", "her", "us", "them"]

# Verbs: base form -> (third person singular present, past tense).
VERBS = {
    "go": ("goes", "went"),
    "come": ("comes", "came"),
    "walk": ("walks", "walked"),
    "eat": ("eats", "ate"),
    "drink": ("drinks", "drank"),
    "make": ("makes", "made"),
    "buy": ("buys", "bought"),
    "see": ("sees", "saw"),
    "like": ("likes", "liked"),
    "want": ("wants", "wanted"),
    "have": ("has", "had"),
    "play": ("plays", "played"),
    "read": ("reads", "read"),
    "work": ("works", "worked"),
    "live": ("lives", "lived"),
    "sleep": ("sleeps", "slept"),
    "help": ("helps", "helped"),
}
# Verbs that describe a state: no "every day" after them.
STATIVE = {"like", "want", "have", "live"}


class NP(NamedTuple):
    """A noun phrase used as a subject."""

    words: list[str]
    agr: str            # agreement: "i", "you", "3s" or "pl"
    pron: str           # pronoun that refers back: "i", "you", "he", "she", "it", "we", "they"
    animal: bool = False


def a_an(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def present(verb: str, agr: str) -> str:
    return VERBS[verb][0] if agr == "3s" else verb


def past(verb: str) -> str:
    return VERBS[verb][1]


def be_present(agr: str) -> str:
    return {"i": "am", "you": "are", "3s": "is", "pl": "are"}[agr]


def be_past(agr: str) -> str:
    return "was" if agr in ("i", "3s") else "were"


def do_present(agr: str) -> str:
    return "does" if agr == "3s" else "do"


class Grammar:
    """The grammar, drawing every choice from one seeded generator."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    # -- choices --------------------------------------------------------------

    def pick(self, seq):
        return self.rng.choice(seq)

    def maybe(self, p: float) -> bool:
        return self.rng.random() < p

    def choose(self, options):
        """Call one of the functions in [(weight, function), ...]."""
        total = sum(w for w, _ in options)
        x = self.rng.random() * total
        for weight, fn in options:
            x -= weight
            if x < 0:
                return fn()
        return options[-1][1]()

    # -- noun phrases ---------------------------------------------------------

    def person(self) -> NP:
        """One person: 'mary', 'my sister', 'the teacher', 'john 's friend'."""
        kind = self.choose([(3, lambda: "name"), (4, lambda: "family"),
                            (3, lambda: "people"), (1, lambda: "names")])
        if kind == "name":
            name = self.pick(list(NAMES))
            return NP([name], "3s", NAMES[name])
        if kind == "people":
            noun = self.pick(list(PEOPLE))
            return NP(["the", noun], "3s", PEOPLE[noun] or self.pick(["he", "she"]))
        noun = self.pick(list(FAMILY))
        pron = FAMILY[noun] or self.pick(["he", "she"])
        owner = [self.pick(POSSESSIVES)] if kind == "family" else [self.pick(list(NAMES)), "'s"]
        return NP(owner + [noun], "3s", pron)

    def people(self) -> NP:
        """Several people: 'the children', 'our friends', 'tom and anna'."""
        words = self.choose([
            (3, lambda: ["the", self.pick(PEOPLE_PL)]),
            (3, lambda: [self.pick(POSSESSIVES), self.pick(["children", "friends"])]),
            (1, lambda: [self.pick(["john", "tom"]), "and", self.pick(["mary", "anna"])]),
        ])
        return NP(words, "pl", "they")

    def animal(self) -> NP:
        noun = self.pick(ANIMALS)
        if self.maybe(0.15):
            return NP(["the", self.pick(ANIMALS_PL)], "pl", "they", True)
        owner = self.choose([(4, lambda: ["the"]), (2, lambda: [self.pick(POSSESSIVES)]),
                             (1, lambda: [self.pick(list(NAMES)), "'s"])])
        return NP(owner + [noun], "3s", "it", True)

    def pronoun(self, i: bool = True) -> NP:
        p = self.pick(["i", "i", "you", "he", "she", "we", "they"] if i else
                      ["you", "you", "he", "she", "we", "they"])
        agr = {"i": "i", "you": "you", "we": "pl", "they": "pl"}.get(p, "3s")
        return NP([p], agr, p)

    def subject(self, animals: bool = True, i: bool = True) -> NP:
        """A subject; i=False leaves out "i" (for questions)."""
        options = [(9, lambda: self.pronoun(i)), (6, self.person), (3, self.people)]
        if animals:
            options.append((4, self.animal))
        return self.choose(options)

    def someone(self) -> list[str]:
        """A person as an object: 'her', 'my father', 'the children'."""
        return self.choose([(3, lambda: [self.pick(OBJECT_PRONOUNS)]),
                            (4, lambda: self.person().words),
                            (2, lambda: self.people().words)])

    def food(self) -> list[str]:
        return self.choose([
            (3, lambda: ["some", self.pick(FOOD)]),
            (2, lambda: [self.pick(FOOD)]),
            (2, lambda: (lambda w: [a_an(w), w])(self.pick(FOOD_COUNT))),
            (1, lambda: [self.pick(NUMBERS[1:5]), self.pick(FOOD_COUNT_PL)]),
            (1, lambda: ["the", self.pick(FOOD + FOOD_COUNT)]),
        ])

    def drink(self) -> list[str]:
        return self.choose([
            (3, lambda: ["some", self.pick(DRINKS)]),
            (3, lambda: [self.pick(DRINKS)]),
            (2, lambda: ["a", "cup", "of", self.pick(["tea", "coffee", "milk"])]),
        ])

    def thing(self) -> list[str]:
        """A thing: 'a book', 'the red car', 'an old bag', 'her ball'."""
        noun = self.pick(THINGS)
        return self.choose([
            (3, lambda: [a_an(noun), noun]),
            (3, lambda: ["the", noun]),
            (2, lambda: [self.pick(POSSESSIVES), noun]),
            (2, lambda: (lambda adj: [a_an(adj), adj, noun])(self.pick(COLOURS + SIZES))),
            (1, lambda: ["the", self.pick(COLOURS), noun]),
        ])

    # -- places and times -----------------------------------------------------

    def destination(self) -> list[str]:
        """Where someone goes: 'to school', 'home', 'to the park'."""
        return self.choose([
            (3, lambda: ["to", "school"]),
            (2, lambda: ["to", "work"]),
            (3, lambda: ["home"]),
            (1, lambda: ["to", "bed"]),
            (4, lambda: ["to", "the", self.pick(["park", "shop", "city", "office"])]),
            (1, lambda: ["to", "the", "garden"]),
            (1, lambda: ["to", self.pick(POSSESSIVES), "house"]),
            (1, lambda: ["to", self.pick(list(NAMES)), "'s", "house"]),
        ])

    def location(self, person: bool = True) -> list[str]:
        """Where someone is: 'in the garden', 'on the table', 'at school'.

        person=False: only places where an animal or a thing can be.
        """
        if not person:
            return self.choose([
                (4, lambda: ["in", "the", self.pick(ROOMS + ["park", "car"])]),
                (4, lambda: ["on", "the", self.pick(FURNITURE)]),
                (1, lambda: ["near", "the", self.pick(["house", "school", "park", "shop"])]),
                (1, lambda: ["in", self.pick(POSSESSIVES), self.pick(["room", "house", "garden"])]),
            ])
        return self.choose([
            (4, lambda: ["in", "the", self.pick(ROOMS + ["park", "city", "car", "bag"])]),
            (4, lambda: ["on", "the", self.pick(FURNITURE)]),
            (1, lambda: ["near", "the", self.pick(["house", "school", "park", "shop"])]),
            (2, lambda: ["at", self.pick(["school", "home", "work"])]),
            (1, lambda: ["at", "the", self.pick(["shop", "office", "park"])]),
            (1, lambda: ["in", self.pick(POSSESSIVES), self.pick(["room", "house", "garden", "car"])]),
        ])

    def clock(self) -> list[str]:
        return ["at", self.pick(NUMBERS[5:]), "o'clock"]

    def time_present(self) -> list[str]:
        return self.choose([
            (3, lambda: ["every", self.pick(["day", "morning", "evening", "week"])]),
            (2, lambda: ["in", "the", self.pick(["morning", "evening"])]),
            (1, lambda: ["at", "night"]),
            (2, lambda: ["on", self.pick(DAYS)]),
            (1, lambda: ["after", "school"]),
            (1, self.clock),
        ])

    def time_past(self) -> list[str]:
        return self.choose([
            (4, lambda: ["yesterday"]),
            (2, lambda: ["last", self.pick(["night", "week", "year"])]),
            (2, lambda: ["on", self.pick(DAYS)]),
            (1, lambda: ["this", "morning"]),
            (1, lambda: ["yesterday", self.pick(["morning", "evening"])]),
            (1, lambda: [self.pick(NUMBERS[1:]), "days", "ago"]),
        ])

    def time_future(self) -> list[str]:
        return self.choose([
            (4, lambda: ["tomorrow"]),
            (2, lambda: ["next", self.pick(["week", "year"])]),
            (2, lambda: ["on", self.pick(DAYS)]),
            (1, lambda: ["this", "evening"]),
            (1, lambda: ["tomorrow", self.pick(["morning", "evening"])]),
            (1, self.clock),
        ])

    # -- verb phrases ---------------------------------------------------------

    def animal_vp(self) -> tuple[str, list[str]]:
        """What an animal does: a verb (not yet conjugated) and what follows it."""
        return self.choose([
            (3, lambda: ("eat", self.pick([["some", "fish"], ["the", "bread"], ["the", "cake"],
                                           ["an", "egg"], ["fish"]]))),
            (2, lambda: ("drink", self.pick([["some", "water"], ["the", "milk"], ["water"],
                                             ["milk"]]))),
            (3, lambda: ("play", self.pick([["in", "the", "garden"], ["with", "the", "ball"],
                                            ["in", "the", "park"], ["with", "the", "children"]]))),
            (2, lambda: ("sleep", self.pick([["in", "the", self.pick(ROOMS + ["car"])],
                                             ["on", "the", self.pick(FURNITURE)],
                                             ["near", "the", "house"]]))),
            (1, lambda: ("walk", self.pick([["home"], ["to", "the", "park"],
                                            ["in", "the", "garden"]]))),
            (1, lambda: ("see", ["the", self.pick(ANIMALS + ["children", "man", "ball"])])),
            (1, lambda: ("like", self.pick([["fish"], ["milk"], ["the", "garden"],
                                            ["the", "children"], ["the", "boy"]]))),
            (1, lambda: ("come", ["home"])),
            (1, lambda: ("go", self.pick([["home"], ["to", "the", "garden"],
                                          ["to", "the", "park"], ["to", "bed"]]))),
        ])

    def person_vp(self) -> tuple[str, list[str]]:
        """What a person does: a verb (not yet conjugated) and what follows it."""
        return self.choose([
            (6, lambda: ("go", self.destination())),
            (2, lambda: ("come", self.pick([["home"], ["to", "school"],
                                            ["to", "my", "house"], ["to", "the", "park"]]))),
            (2, lambda: ("walk", self.pick([["to", "school"], ["home"], ["to", "work"],
                                            ["in", "the", "park"], ["with", "the", "dog"]]))),
            (4, lambda: ("eat", self.food())),
            (3, lambda: ("drink", self.drink())),
            (3, lambda: ("make", self.pick([self.food(), ["a", "cake"], ["some", "tea"],
                                            ["some", "soup"], ["a", "cup", "of", "coffee"]]))),
            (3, lambda: ("buy", self.pick([self.food(), self.thing(), self.drink()]))),
            (3, lambda: ("see", self.pick([self.someone(), self.animal().words, self.thing()]))),
            (2, lambda: ("like", self.pick([[self.pick(FOOD + FOOD_COUNT_PL + DRINKS)],
                                            [self.pick(ANIMALS_PL)], self.someone()]))),
            (3, lambda: ("have", self.pick([self.thing(), self.animal().words,
                                            [self.pick(NUMBERS[1:]), self.pick(ANIMALS_PL)],
                                            ["a", "new", self.pick(THINGS)]]))),
            (3, lambda: ("play", self.pick([["football"], ["with", "the", "dog"],
                                            ["in", "the", "park"], ["with", "the", "ball"],
                                            ["in", "the", "garden"],
                                            ["with", self.pick(OBJECT_PRONOUNS)],
                                            ["football", "with", self.pick(OBJECT_PRONOUNS)]]))),
            (3, lambda: ("read", self.pick([["a", "book"], [self.pick(POSSESSIVES), "book"],
                                            ["a", "new", "book"], ["the", "book"],
                                            ["a", "book", "to", "the", "children"]]))),
            (3, lambda: ("work", self.pick([["at", "the", "office"], ["at", "the", "shop"],
                                            ["in", "the", "garden"], ["at", "home"],
                                            ["in", "the", "city"], ["at", "the", "school"]]))),
            (2, lambda: ("live", self.pick([["in", "the", "city"], ["in", "a", "big", "house"],
                                            ["in", "a", "small", "house"],
                                            ["near", "the", "park"], ["near", "the", "school"],
                                            ["with", self.pick(POSSESSIVES),
                                             self.pick(["mother", "father"])]]))),
            (1, lambda: ("sleep", self.pick([["at", "night"], ["in", self.pick(POSSESSIVES), "room"],
                                             ["in", "the", "garden"], ["on", "the", "floor"]]))),
            (3, lambda: ("help", self.someone())),
        ])

    def vp(self, np: NP, stative: bool = True) -> tuple[str, list[str]]:
        """A verb phrase that suits the subject; stative=False: an action only."""
        while True:
            verb, rest = self.animal_vp() if np.animal else self.person_vp()
            if stative or verb not in STATIVE:
                return verb, rest

    # -- sentences ------------------------------------------------------------

    def s_present(self) -> list[str]:
        """'my father works at the office every day .'"""
        np = self.subject()
        verb, rest = self.vp(np)
        out = np.words + [present(verb, np.agr)] + rest
        if verb not in STATIVE and self.maybe(0.7):
            out += self.time_present()
        return out + ["."]

    def s_past(self) -> list[str]:
        """'the children played in the park yesterday .'"""
        np = self.subject()
        verb, rest = self.vp(np)
        out = np.words + [past(verb)] + rest
        if self.maybe(0.75):
            out += self.time_past()
        return out + ["."]

    def s_future(self) -> list[str]:
        """'we will go to the shop tomorrow .'"""
        np = self.subject()
        verb, rest = self.vp(np)
        out = np.words + ["will", verb] + rest
        if self.maybe(0.75):
            out += self.time_future()
        return out + ["."]

    def s_want(self) -> list[str]:
        """'i want to go home .', 'the dog did n't want to go home .'"""
        np = self.choose([(1, lambda: NP(["i"], "i", "i")), (4, self.subject)])
        verb = self.pick(["want", "want", "want", "like"])
        past_tense = self.maybe(0.35)
        if self.maybe(0.3):
            head = ["did", "n't", verb] if past_tense else [do_present(np.agr), "n't", verb]
        else:
            head = [past(verb)] if past_tense else [present(verb, np.agr)]
        inner, rest = self.vp(np, stative=False)
        tail = []
        if verb == "want" and self.maybe(0.3):
            tail = self.time_past() if past_tense else self.time_future()
        return np.words + head + ["to", inner] + rest + tail + ["."]

    def s_negative(self) -> list[str]:
        """'she does n't like fish .', 'tom did n't go to school yesterday .'"""
        np = self.subject()
        verb, rest = self.vp(np)
        if self.maybe(0.5):
            return np.words + [do_present(np.agr), "n't", verb] + rest + ["."]
        tail = self.time_past() if self.maybe(0.6) else []
        return np.words + ["did", "n't", verb] + rest + tail + ["."]

    def s_can(self) -> list[str]:
        """'the dog can play in the garden .', 'you can help me .'"""
        np = self.subject()
        verb, rest = self.vp(np)
        return np.words + ["can", verb] + rest + ["."]

    def s_yes_no(self) -> list[str]:
        """'does your sister like tea ?', 'did they go home yesterday ?'"""
        np = self.subject(i=False)
        verb, rest = self.vp(np)
        kind = self.rng.randrange(5)
        if kind == 0:
            return [do_present(np.agr)] + np.words + [verb] + rest + ["?"]
        if kind == 1:
            tail = self.time_past() if self.maybe(0.6) else []
            return ["did"] + np.words + [verb] + rest + tail + ["?"]
        if kind == 2:
            return ["can"] + np.words + [verb] + rest + ["?"]
        if kind == 3:
            tail = self.time_future() if self.maybe(0.6) else []
            return ["will"] + np.words + [verb] + rest + tail + ["?"]
        verb, rest = self.vp(np, stative=False)
        return [do_present(np.agr)] + np.words + [self.pick(["want", "like"]), "to", verb] + \
            rest + ["?"]

    def short_answer(self) -> list[str]:
        """'yes , she does .', 'no , they did n't .'"""
        np = self.pronoun()
        aux = self.choose([(3, lambda: do_present(np.agr)), (2, lambda: "did"),
                           (1, lambda: "can")])
        if self.maybe(0.5):
            return ["yes", ","] + np.words + [aux, "."]
        return ["no", ","] + np.words + [aux, "n't" if aux != "can" else "not", "."]

    def s_wh(self) -> list[str]:
        np = self.subject(animals=False, i=False)
        return self.choose([
            (3, lambda: ["where", do_present(np.agr)] + np.words +
             [self.pick(["live", "work", "go", "play", "sleep"]), "?"]),
            (3, lambda: (lambda x: ["where", be_present(x.agr)] + x.words + ["?"])(
                self.choose([(2, self.person), (2, self.animal), (1, self.people)]))),
            (1, lambda: ["where", "is", "the", self.pick(THINGS), "?"]),
            (3, lambda: ["what", do_present(np.agr)] + np.words + [self.pick(["want", "like"]), "to",
                         self.pick(["eat", "drink", "do", "buy", "read", "make", "play"]), "?"]),
            (2, lambda: ["what", "did"] + np.words +
             [self.pick(["eat", "drink", "do", "buy", "see", "make", "read"])] +
             self.time_past() + ["?"]),
            (2, lambda: ["what", "will"] + np.words +
             [self.pick(["eat", "do", "buy", "make"])] + self.time_future() + ["?"]),
            (2, lambda: ["when", do_present(np.agr)] + np.words +
             self.pick([["go", "home"], ["come", "home"], ["go", "to", "school"],
                        ["go", "to", "work"], ["go", "to", "bed"]]) + ["?"]),
            (1, lambda: ["why", be_present(np.agr)] + np.words + [self.pick(FEELINGS[:5]), "?"]),
            (1, lambda: ["why", "did"] + np.words + [self.pick(["go", "come"]), "home", "?"]),
            (1, lambda: ["who", self.pick(["is", "was"]), "that",
                         self.pick(["man", "woman", "boy", "girl"]), "?"]),
            (1, lambda: ["who", self.pick(["wants", "likes"]), "to",
                         *self.pick([["eat", "some", self.pick(FOOD)],
                                     ["play", "football"], ["go", "home"]]), "?"]),
            (1, lambda: ["how", "are", "you", self.pick(["today", "now"]), "?"]),
        ])

    def s_time(self) -> list[str]:
        """'what time is it ?', 'it is six o'clock .', days of the week."""
        n = self.pick(NUMBERS)
        np = self.subject(animals=False)
        q = self.subject(animals=False, i=False)
        d = self.rng.randrange(7)
        return self.choose([
            (4, lambda: ["what", "time", "is", "it"] +
             self.pick([[], ["now"], [",", self.pick(list(NAMES))]]) + ["?"]),
            (4, lambda: ["it", "is", n, "o'clock", *(["now"] if self.maybe(0.3) else []), "."]),
            (3, lambda: ["what", "time", do_present(q.agr)] + q.words +
             self.pick([["go", "home"], ["come", "home"], ["get", "up"], ["go", "to", "bed"],
                        ["go", "to", "school"], ["go", "to", "work"]]) + ["?"]),
            (3, lambda: np.words + [present(self.pick(["go", "come"]), np.agr), "home",
                                    "at", n, "o'clock", "."]),
            (2, lambda: np.words + ["gets" if np.agr == "3s" else "get", "up",
                                    "at", self.pick(NUMBERS[4:8]), "o'clock", "."]),
            (2, lambda: ["what", "day", "is", "it", "today", "?"]),
            (2, lambda: ["today", "is", DAYS[d], ",", "tomorrow", "is", DAYS[(d + 1) % 7], "."]),
            (1, lambda: ["yesterday", "was", DAYS[d], ",", "today", "is", DAYS[(d + 1) % 7], "."]),
            (2, lambda: ["after", DAYS[d], "comes", DAYS[(d + 1) % 7], "."]),
        ])

    def s_numbers(self) -> list[str]:
        """Counting, sums, ages, 'there are three cats in the garden .'"""
        np = self.subject(animals=False)
        q = self.subject(animals=False, i=False)

        def add():
            a = self.rng.randrange(1, 10)
            b = self.rng.randrange(1, 11 - a)
            return [NUMBERS[a - 1], "and", NUMBERS[b - 1], "is", NUMBERS[a + b - 1], "."]

        def count():
            i = self.rng.randrange(8)
            return ["after", NUMBERS[i], "comes", NUMBERS[i + 1], "and", "then",
                    NUMBERS[i + 2], "."]

        def have():
            noun = self.pick(ANIMALS_PL + FOOD_COUNT_PL + ["friends", "children"])
            return np.words + [present("have", np.agr), self.pick(NUMBERS[1:]), noun, "."]

        def how_many():
            noun = self.pick(ANIMALS_PL + FOOD_COUNT_PL + ["friends", "children"])
            return ["how", "many", noun, do_present(q.agr)] + q.words + ["have", "?"]

        def age():
            if self.maybe(0.35):
                who = self.choose([(3, self.person), (2, lambda: self.pronoun(i=False))])
                return ["how", "old", be_present(who.agr)] + who.words + ["?"]
            who = self.choose([(3, self.person), (2, self.pronoun)])
            return who.words + [be_present(who.agr), self.pick(NUMBERS[1:]), "years", "old", "."]

        def there():
            if self.maybe(0.4):
                noun = self.pick(ANIMALS + THINGS + FOOD_COUNT)
                return ["there", "is", a_an(noun), noun] + self.location(person=False) + ["."]
            noun = self.pick(ANIMALS_PL + FOOD_COUNT_PL + ["children", "people"])
            if self.maybe(0.3):
                return ["how", "many", noun, "are", "there"] + self.location(noun == "people") + ["?"]
            return ["there", "are", self.pick(NUMBERS[1:]), noun] + \
                self.location(noun in ("children", "people")) + ["."]

        return self.choose([(2, add), (1, count), (3, have), (2, how_many), (3, age), (4, there)])

    def s_describe(self) -> list[str]:
        """Feelings, colours, sizes and where things are."""
        def feeling():
            np = self.subject(animals=False)
            adj = ([self.pick(["very", "not"])] if self.maybe(0.3) else []) + \
                [self.pick(FEELINGS)]
            tense = self.rng.randrange(3)
            if tense == 0:
                return np.words + [be_present(np.agr)] + adj + \
                    (["today"] if self.maybe(0.4) else []) + ["."]
            if tense == 1:
                return np.words + [be_past(np.agr)] + adj + \
                    (self.time_past() if self.maybe(0.6) else []) + ["."]
            return np.words + ["will", "be"] + adj + \
                (self.time_future() if self.maybe(0.6) else []) + ["."]

        def because():
            np = self.subject(animals=False)
            adj = self.pick(["tired", "hungry", "happy", "sad", "cold"])
            reason = {
                "tired": [["did", "n't", "sleep"], ["worked", "in", "the", "garden"],
                          ["walked", "to", "school"], ["played", "football"]],
                "hungry": [["did", "n't", "eat"], ["had", "no", "bread"],
                           ["did", "n't", "have", "an", "egg"]],
                "happy": [["saw", "the", "dog"], ["had", "a", "new", "ball"],
                          ["made", "a", "cake"], ["played", "with", "the", "cat"]],
                "sad": [["did", "n't", "see", "the", "dog"], ["had", "no", "friends"],
                        ["did", "n't", "play", "football"]],
                "cold": [["walked", "home"], ["had", "no", "tea"], ["slept", "in", "the", "garden"]],
            }[adj]
            return np.words + [be_past(np.agr), adj, "because", np.pron] + \
                self.pick(reason) + ["."]

        def colour():
            noun = self.pick(THINGS + ANIMALS)
            if self.maybe(0.3):
                return ["what", "colour", "is", self.pick(["the"] + POSSESSIVES), noun, "?"]
            owner = [self.pick(list(NAMES)), "'s"] if self.maybe(0.4) else \
                [self.pick(["the"] + POSSESSIVES)]
            return owner + [noun, self.pick(["is", "was"]), self.pick(COLOURS), "."]

        def where():
            verb = self.pick(["is", "is", "was"])
            if self.maybe(0.3):
                # 'the red ball is on the bed .': a thing, in a place that suits it.
                noun = self.pick(THINGS)
                owner = self.pick([["the"], ["the"], [self.pick(POSSESSIVES)],
                                   ["the", self.pick(COLOURS)]])
                if noun == "car":
                    place = self.pick([["in", "the", "garden"], ["near", "the", "house"],
                                       ["near", "the", "school"], ["at", "the", "shop"]])
                else:
                    place = self.pick([["on", "the", self.pick(FURNITURE)],
                                       ["in", "the", self.pick(["car", "garden", "room"])],
                                       ["in", self.pick(POSSESSIVES), "bag"]
                                       if noun != "bag" else ["in", "the", "house"]])
                return owner + [noun, verb] + place + ["."]
            np = self.choose([(3, self.animal), (2, self.person), (1, self.people)])
            verb = be_present(np.agr) if self.maybe(0.7) else be_past(np.agr)
            return np.words + [verb] + self.location(not np.animal) + ["."]

        def taste():
            return ["the", self.pick(FOOD + DRINKS), self.pick(["is", "was"]),
                    *(["very"] if self.maybe(0.4) else []), self.pick(TASTES), "."]

        def size():
            noun = self.pick(THINGS + ["house", "room", "garden", "city", "school"])
            det = self.pick(["this", "that", "the", "my", "your", "our"])
            if noun in THINGS and self.maybe(0.4):
                return [det, noun, "is", self.pick(COLOURS), "."]
            return [det, noun, "is", *([self.pick(["very", "not"])] if self.maybe(0.3) else []),
                    self.pick(SIZES), "."]

        def this_is():
            noun = self.pick(list(FAMILY) + THINGS + ANIMALS)
            return [self.pick(["this", "that"]), "is", self.pick(POSSESSIVES), noun, "."]

        return self.choose([(5, feeling), (2, because), (4, colour), (5, where),
                            (2, taste), (2, size), (2, this_is)])

    def s_weather(self) -> list[str]:
        adj = self.pick(WEATHER)
        very = ["very"] if self.maybe(0.3) else []
        return self.choose([
            (3, lambda: ["it", "is"] + very + [adj, self.pick(["today", "now"]), "."]),
            (2, lambda: ["it", "was"] + very + [adj] + self.time_past() + ["."]),
            (2, lambda: ["it", "will", "be", adj] + self.time_future() + ["."]),
            (1, lambda: ["it", "is", "raining", self.pick(["now", "today"]), "."]),
            (1, lambda: ["it", "will", "rain"] + self.time_future() + ["."]),
            (1, lambda: ["it", "did", "n't", "rain"] + self.time_past() + ["."]),
            (2, lambda: ["the", "weather", *self.pick([["is", adj, "today"],
                                                       ["was", adj, "yesterday"],
                                                       ["will", "be", adj, "tomorrow"]]), "."]),
            (1, lambda: ["is", "it", self.pick(["cold", "hot", "raining", "sunny"]),
                         self.pick(["today", "now"]), "?"]),
            (2, lambda: (lambda np: ["when", "it", "rains", ","] + np.words +
                         [do_present(np.agr), "n't", self.pick(["go", "walk", "play"]),
                          "in", "the", "park", "."])(self.subject())),
        ])

    def s_dialogue(self) -> list[str]:
        name = self.pick(list(NAMES))
        return self.choose([
            (2, lambda: ["hello", *([name] if self.maybe(0.5) else []), ",", "how", "are",
                         "you", "?"]),
            (2, lambda: ["i", "am", self.pick(["fine", "fine", "happy", "tired"]), ",",
                         "thank", "you", "."]),
            (3, self.short_answer),
            (2, lambda: ["good", self.pick(["morning", "evening", "night"]), ",", name, "."]),
            (1, lambda: ["see", "you"] + self.pick([["tomorrow"], ["on", self.pick(DAYS)],
                                                    ["next", "week"], ["at", "school"]]) + ["."]),
            (1, lambda: ["can", "i", "help", "you", "?"]),
            (1, lambda: ["can", "i", "have"] + self.pick([["some", "water"], ["some", "tea"],
                                                          ["an", "apple"], ["some", "cake"],
                                                          ["the", "ball"]]) + ["please", "?"]),
            (1, lambda: ["yes", ",", "please", "."]),
            (1, lambda: ["no", ",", "thank", "you", "."]),
            (1, lambda: ["i", "do", "n't", "know", "where", self.pick(["he", "she", "it"]),
                         "is", "."]),
            (1, lambda: ["do", "you", "know", "where", "the", self.pick(ANIMALS + THINGS),
                         "is", "?"]),
            (1, lambda: ["it", "'s", "time", "to"] +
             self.pick([["go", "to", "bed"], ["go", "home"], ["go", "to", "school"], ["eat"]]) +
             ["."]),
        ])

    def s_compound(self) -> list[str]:
        """Two clauses: '... and ...', '... , but ...', 'when ... , ...'."""
        def clause(tense):
            np = self.subject()
            verb, rest = self.vp(np)
            return np.words + [present(verb, np.agr) if tense == "present" else past(verb)] + rest

        kind = self.rng.randrange(4)
        if kind == 0:
            return clause("present") + ["and"] + clause("present") + ["."]
        if kind == 1:
            # 'i wanted to go home , but my mother did n't .'
            np, other = self.subject(), self.subject()
            verb, rest = self.vp(np, stative=False)
            return np.words + ["wanted", "to", verb] + rest + [",", "but"] + other.words + \
                ["did", "n't", "."]
        if kind == 2:
            return ["when"] + clause("past") + [","] + clause("past") + ["."]
        np = self.subject()
        v1, r1 = self.vp(np, stative=False)
        v2, r2 = self.vp(np, stative=False)
        return np.words + [past(v1)] + r1 + ["and", "then", past(v2)] + r2 + ["."]

    TEMPLATES = [
        (14, s_present), (13, s_past), (7, s_future), (9, s_want), (7, s_negative),
        (4, s_can), (7, s_yes_no), (7, s_wh), (5, s_time), (5, s_numbers),
        (10, s_describe), (4, s_weather), (5, s_dialogue), (8, s_compound),
    ]

    def sentence(self) -> list[str]:
        return self.choose([(w, lambda f=f: f(self)) for w, f in self.TEMPLATES])


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------

def generate(n: int = N_SENTENCES, seed: int = SEED) -> list[str]:
    grammar = Grammar(seed)
    seen: Counter[str] = Counter()
    lines: list[str] = []
    while len(lines) < n:
        line = " ".join(grammar.sentence())
        if len(line.split()) < 4 or seen[line] >= MAX_REPEATS:
            continue
        seen[line] += 1
        lines.append(line)
    return lines


def stats(lines: list[str]) -> dict:
    counts: Counter[str] = Counter()
    four_grams: Counter[tuple[str, ...]] = Counter()
    for line in lines:
        t = line.split()
        counts.update(t)
        four_grams.update(tuple(t[i:i + 4]) for i in range(len(t) - 3))
    return {
        "sentences": len(lines),
        "tokens": sum(counts.values()),
        "vocabulary": len(counts),
        "four_grams": sum(four_grams.values()),
        "distinct_four_grams": len(four_grams),
        "most_common": counts.most_common(10),
        "rarest": counts.most_common()[:-6:-1],
    }


def main() -> int:
    lines = generate()
    text = "\n".join(lines) + "\n"
    OUTPUT.write_bytes(text.encode("ascii"))  # ASCII, so also valid UTF-8
    s = stats(lines)
    print(f"wrote {OUTPUT}")
    print(f"sentences:         {s['sentences']}")
    print(f"tokens:            {s['tokens']}")
    print(f"distinct words:    {s['vocabulary']} (punctuation included)")
    print(f"4-grams:           {s['four_grams']} ({s['distinct_four_grams']} distinct)")
    print("most common words: " + ", ".join(f"{w} {c}" for w, c in s["most_common"]))
    print("rarest words:      " + ", ".join(f"{w} {c}" for w, c in s["rarest"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
