"""The five questions of the homework, and which question a slot, derivation or check belongs to.

A slot says its question (``Slot.question``: ``q5``, or a prefix such as ``vae``); a
derivation belongs to the question of the first slot it establishes; a numeric check to that
of its slot. Anything that names none of the five lands in "Other", so a new catalogue
module shows up in the document without an edit here.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import registry


@dataclass(frozen=True)
class Question:
    key: str                  # "Q1" .. "Q5", or "Other"
    title: str
    names: tuple[str, ...]    # Slot.question values and id prefixes that belong here


QUESTIONS = (
    Question("Q1", "A VAE, step by step", ("q1", "vae")),
    Question("Q2", "A two-level hierarchical VAE", ("q2", "hvae")),
    Question("Q3", "GAN discriminators and f-divergences", ("q3", "gan")),
    Question("Q4", "Score matching", ("q4", "sm")),
    Question("Q5", "DDIM: a non-Markovian forward process", ("q5", "ddim", "lemma")),
)
OTHER = Question("Other", "Other results", ())


def by_name(name: str) -> Question:
    for q in QUESTIONS:
        if name in q.names:
            return q
    return OTHER


def of_slot(slot_id: str) -> Question:
    table = registry.slots()
    if slot_id in table and table[slot_id].question:
        found = by_name(table[slot_id].question)
        if found is not OTHER:
            return found
    return by_name(slot_id.split(".")[0])


def of_derivation(derivation) -> Question:
    if derivation.slots:
        return of_slot(derivation.slots[0])
    return by_name(derivation.id.split(".")[0])


def ordered() -> tuple[Question, ...]:
    return QUESTIONS + (OTHER,)
