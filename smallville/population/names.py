"""People's names: bundled first and last names, drawn from a seed, unique however many people there are.

Owns the name lists and the scheme that keeps names unique. A person draws a first name (from the list for
their gender where the population has one, else from both) and a last name. A name already taken gets a
middle initial ("Ada J. Brook", up to three tries with different letters), and if those are taken too a
number ("Ada Brook 2", the lowest number not yet used for that name): 150 x 250 pairs per gender run out
near 40,000 people, and a million people must still be told apart. Names already in use elsewhere (the
residents a town's map places by name) are passed as `reserved` and never drawn.

The lists are ASCII without apostrophes, so a name is safe in any prompt, TOML key or font.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FEMALE = words(
    "Ada Agnes Aiko Alice Amara Amelia Ana Anika Anna Aria Astrid Aurora Ayana Beatriz Bella Bianca Camila "
    "Carla Carmen Celia Chloe Clara Daria Delia Diana Dina Edith Elena Eliza Ella Elsa Emma Esme Eva Farah "
    "Fatima Flora Freya Gemma Grace Greta Hana Hannah Harper Hazel Helen Ida Imani Ines Ingrid Irene Iris "
    "Isla Ivy Jade Jana Jasmine Julia June Kaia Kamala Karin Kate Keiko Kira Laila Lara Laura Layla Lea Leila "
    "Lena Lila Lina Lucia Lucy Luisa Mai Maia Malia Maren Maria Marta Maya Mei Mila Mina Mira Nadia Naomi "
    "Nia Nina Noor Nora Olga Olivia Paloma Paula Petra Priya Quinn Rachel Rana Rania Rosa Ruby Ruth Sada "
    "Sara Selma Sienna Sofia Sonia Stella Suki Talia Tamar Tara Tessa Thea Uma Valeria Vera Vida Wanda "
    "Willa Xia Yara Yasmin Yuki Zara Zoe Zora"
)

MALE = words(
    "Aaron Abel Adam Adrian Ahmed Alan Alec Amir Andre Anton Arjun Arno Axel Ben Bruno Caleb Carlos Cyrus "
    "Dan Dario David Dev Diego Dmitri Eli Elias Emil Enzo Eric Ethan Farid Felix Finn Franz Gabe Gus Hamid "
    "Hans Hari Henry Hugo Ian Igor Isaac Ivan Jack Jamal Jasper Javier Jonas Jorge Jose Julian Kai Karl "
    "Kenji Kofi Lars Leo Leon Levi Liam Lorenzo Luca Lucas Luis Malik Marco Marcus Mateo Max Milan Milo "
    "Mohan Nate Neil Niko Noah Omar Oscar Otto Owen Pablo Paolo Pavel Pedro Peter Quentin Rafael Rami Ravi "
    "Remy Rohan Rory Ruben Rufus Sami Santiago Saul Sean Sergei Silas Simon Sora Stefan Sven Taro Teo Theo "
    "Tobias Tomas Udo Ulrich Victor Viktor Vinh Wade Walter Wes Xavier Yannick Yosef Yuri Zane Zeke Ziad"
)

LAST = words(
    "Abbott Acosta Adler Ahmadi Alvarez Amato Andersen Arnold Ashby Bach Baker Banerjee Barros Becker Bell "
    "Bender Berg Bishop Blake Bloom Bondarenko Bose Boyd Brandt Brook Bryant Burke Byrne Cabrera Cain Calder "
    "Campos Carver Castro Chandra Chavez Cho Clarke Cohen Cole Conti Cruz Dahl Das Davies Dawson Delgado "
    "Diaz Dixon Dorsey Doyle Dubois Dunn Eaton Ebert Egan Ellis Engel Erikson Esposito Evans Falk Farouk "
    "Fenton Ferreira Fischer Fleming Flores Ford Foster Fox Franco Frost Fuchs Gallo Garcia Garner Geller "
    "Gibson Gill Gomes Gordon Graves Gray Greco Gupta Haas Hale Hall Hansen Hardy Hart Hayes Heller Hill "
    "Holm Horvat Hughes Hunt Husain Ibrahim Ito Iyer Jansen Jensen Joshi Kane Kapoor Kato Keller Kemp Khan "
    "Kim Klein Koch Kowalski Kraus Kumar Lam Lang Larsen Lee Lehmann Levy Lim Lind Lowe Luna Lund Madsen "
    "Mahmoud Marsh Martin Mason Meyer Mills Mishra Molina Mora Morgan Morris Moss Murphy Nakamura Nash "
    "Navarro Nemeth Ng Nielsen Noble Novak Nunez Obi Okafor Olsen Ortega Osei Otto Owens Pace Park Patel "
    "Pena Perez Petrov Pham Pierce Pinto Porter Price Quinn Rahman Ramos Rao Reed Reyes Rios Rivera Roth "
    "Russo Saito Salazar Santos Sato Schmidt Sharma Shaw Silva Singh Sokolov Soto Stone Sullivan Suzuki "
    "Tan Tanaka Torres Tran Ueda Vance Varga Vega Vogel Wagner Walsh Wang Ward Weber Webb West Wolf Wong "
    "Wu Yamada Yang Yilmaz Young Zhang Zhou Ziegler"
)

INITIALS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CHUNK = 1 << 16

#: Gender codes a population's gender attribute maps to (anything else draws from both lists).
FEMALE_CODE, MALE_CODE, ANY_CODE = 0, 1, 2


def gender_code(value: str) -> int:
    """'Female', 'woman', 'F' -> female; 'Male', 'man', 'M' -> male; anything else ('Non-binary',
    'Prefer not to say') -> either list."""
    v = value.strip().lower()
    if v in ("f", "female", "woman", "women", "girl", "w"):
        return FEMALE_CODE
    if v in ("m", "male", "man", "men", "boy"):
        return MALE_CODE
    return ANY_CODE


def unique_names(first_draws: np.ndarray, last_draws: np.ndarray, initial_draws: np.ndarray,
                 genders: np.ndarray | None = None, *, reserved: Iterable[str] = (),
                 female: Sequence[str] = FEMALE, male: Sequence[str] = MALE,
                 last: Sequence[str] = LAST) -> list[str]:
    """One unique name per person, in id order, from three arrays of uniform 64-bit draws.

    Taking the draws as arrays (not a stream call per person) keeps a million names near a second; each
    draw is reduced modulo a list's length, a bias of under 1e-16 for lists this short."""
    both = [*female, *male]
    lists = (list(female), list(male), both)
    used: set[str] = set(reserved)
    bumps: dict[str, int] = {}  # "Ada Brook" -> the highest number given to it so far
    names: list[str] = []
    n_last = len(last)
    for i in range(len(first_draws)):
        if i % _CHUNK == 0:
            # lists of Python ints a chunk at a time: three million 64-bit ints at once would cost ~120 MB
            end = i + _CHUNK
            firsts, lasts = first_draws[i:end].tolist(), last_draws[i:end].tolist()
            initials = initial_draws[i:end].tolist()
            codes = genders[i:end].tolist() if genders is not None else [ANY_CODE] * len(firsts)
        j = i % _CHUNK
        pool = lists[codes[j]]
        first, surname = pool[firsts[j] % len(pool)], last[lasts[j] % n_last]
        name = f"{first} {surname}"
        if name in used:
            x = initials[j]
            for _ in range(3):
                candidate = f"{first} {INITIALS[x % 26]}. {surname}"
                x //= 26
                if candidate not in used:
                    name = candidate
                    break
            else:
                k = bumps.get(name, 1) + 1
                while f"{name} {k}" in used:  # only a reserved name can be in the way
                    k += 1
                bumps[name] = k
                name = f"{name} {k}"
        used.add(name)
        names.append(name)
    return names
