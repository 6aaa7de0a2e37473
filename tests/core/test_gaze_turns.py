"""Gaze around turns, measured on the drawn eye rays of seeded 20-minute meetings of 6 (round
table) and 10 (rectangular table) scripted people (tests/core/conftest.py's tapes), against:

- Kendon 1967 (as summarised by Rutter et al. 1978, "The timing of looks in dyadic conversation"):
  over 70 % of long utterances begin with the speaker looking away and over 70 % end with the
  speaker looking up at the listener.
- Lerner 2003; Vertegaal et al. CHI 2001 (four-person groups, eye tracked): the person a listener
  looks at is the speaker 88 % of the time, the person a speaker looks at is the addressee 77 %:
  in multi-party talk gaze selects whom one talks to, and the outgoing speaker's look at the end of
  a turn goes to the next speaker far above chance.
- Argyle & Ingham 1972 / Argyle & Cook 1976: people look at each other ~61 % of the time in
  conversation, in glances of about 3 s.

Turns are read from the name tags' speech level (gaze_stats.turns), so the test sees what a
viewer sees, not the model's plan.
"""

import pytest

from xrdemo.testing.gaze_stats import listener_gaze, turn_gaze


@pytest.fixture(params=["tape6", "tape10"])
def tape(request):
    return request.getfixturevalue(request.param)


def test_speakers_look_away_as_long_turns_start_and_up_as_they_end(tape):
    m = turn_gaze(tape)
    assert m["long_turns"] >= 60, m
    # Kendon: > 70 % each; the bands allow for 60 Hz ray hits and turn edges read from the speech
    # level, and refuse the old model (52 % / 39 % with 6 people) and a speaker who always looks away or up.
    assert 0.60 <= m["away_start"] <= 0.92, m
    assert 0.60 <= m["up_end"] <= 0.95, m


def test_the_outgoing_speaker_looks_at_the_next_speaker(tape):
    m = turn_gaze(tape)
    assert m["ends"] >= 100, m
    # Old model: 5-7 %, below chance (1/5 with 6 people, 1/9 with 10).
    assert m["at_next"] >= 0.40 and m["at_next"] >= 3.0 * m["chance"], m


def test_listeners_look_at_faces_about_61_percent_mostly_at_the_speaker(tape):
    m = listener_gaze(tape)
    assert 0.50 <= m["face_share"] <= 0.72, m           # old model: 87-92 %
    # Vertegaal et al.: 88 % of a listener's face-looking is at the speaker. With 10 people at a
    # rectangular table a ray to a speaker on the same long side passes the faces in between
    # (the nearest face hit counts), so fewer looks read as on the speaker there.
    assert m["speaker_of_face"] >= (0.75 if tape.n <= 6 else 0.65), m


def test_a_listeners_look_at_the_speaker_lasts_about_3_s(tape):
    m = listener_gaze(tape)
    assert m["glances"] >= 500, m
    # Argyle & Ingham / Argyle & Cook: glances of about 3 s in dyads, +20 % above; below, the band
    # reaches 1.8 s because with ~2 s turns a look at the current speaker mostly ends with the
    # turn (docs/presence.md); the model reads 2.2-2.35 s on seeds 11/12/5/6 (the old one 4.1-4.2 s).
    assert 1.8 <= m["glance_mean_s"] <= 3.6, m
