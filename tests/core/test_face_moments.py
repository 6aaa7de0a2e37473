"""Brows lift on questions and faces smile while laughing, measured from the drawn expression
weights of seeded 20-minute meetings (issue 14, item 4c).

References: raised brows mark questions (Ekman 1979, "About brows"; Flecha-García 2010, Speech
Communication 52:542); laughter comes at the ends of phrases, speakers laughing more than their
listeners (Provine 1993, Ethology 95:291); multiparty meetings hold ~3.3 laugh bouts a minute
(Laskowski & Burger 2007: 13,000 bouts in 65 hours of ICSI meetings).
"""

import numpy as np
import pytest

from xrdemo.core.face_behaviour import FaceBehaviour
from xrdemo.testing import talk_stats as TS


@pytest.fixture(params=["tape6", "tape10"])
def tape(request):
    return request.getfixturevalue(request.param)


def _phrase_ends(tr, utts):
    """Ends of the phrases inside turns that are not the turn's last one: (person, t)."""
    _, long_ = TS.split(utts)
    out = []
    for p, s, e, c in tr:
        if c < 2:
            continue
        out += [(u.person, u.end) for u in long_ if u.person == p and s <= u.start and u.end < e - 0.1]
    return out


def test_brows_rise_at_question_ends_not_at_statement_ends(tape):
    utts = TS.utterances(tape)
    tr = TS.turns(utts)
    T = len(tape.t) / tape.fps
    ends = [(i, e) for i, s, e, c in tr if e + 0.5 < T]
    brow = np.array([TS.brow_after(tape, i, e) for i, e in ends])
    raised = brow > 0.25
    # Some turn ends (the questions: ~15 % of turns) show the brows clearly up in the wait ...
    assert 0.07 < raised.mean() < 0.3, raised.mean()
    # ... well above the others (statements), by a clear margin ...
    assert np.median(brow[raised]) > np.median(brow[~raised]) + 0.3
    assert np.median(brow[~raised]) < 0.1
    # ... and inside turns, after a phrase that does not end the turn, they almost never are.
    mid = np.array([TS.brow_after(tape, i, e) for i, e in _phrase_ends(tr, utts)])
    assert len(mid) > 50 and (mid > 0.25).mean() < 0.04, (mid > 0.25).mean()


def test_laughs_smile_well_above_rest_at_phrase_ends_with_jaw_bursts(tape):
    lg = TS.laughs(tape)
    minutes = len(tape.t) / tape.fps / 60.0
    rate = len(lg) / minutes
    assert 1.0 < rate < 8.0, rate                            # ~3.3 bouts/min in meetings
    smile = 0.5 * (tape.expression("smile_left") + tape.expression("smile_right"))
    cheek = tape.expression("cheek_raise_left")
    jaw = tape.expression("jaw_open")
    level = tape.speaking.astype(np.float32)
    laughing = np.zeros(smile.shape, bool)
    for i, s, e in lg:
        laughing[int(s * tape.fps):int(e * tape.fps), i] = True
    assert smile[laughing].mean() > smile[~laughing].mean() + 0.4
    assert cheek[laughing].mean() > cheek[~laughing].mean() + 0.3
    # The jaw opens in bursts while laughing (not while silent at rest).
    quiet = level == 0
    assert jaw[laughing & quiet].std() > 0.08
    assert jaw[~laughing & quiet].std() < 0.05
    # Laughter comes at phrase ends: a laugh starts within 0.8 s after someone's voiced run ended.
    utts = TS.utterances(tape)
    _, long_ = TS.split(utts)
    ends = np.array([u.end for u in long_])
    after_end = [np.any((s - ends > -0.05) & (s - ends < 0.8)) for _, s, _ in lg]
    assert np.mean(after_end) > 0.8
    # Speakers laugh more than listeners (Provine 1993): in each episode (laughs starting within
    # 1 s of each other), the one whose turn just ended laughs more often than any one listener.
    tr = TS.turns(utts)
    speaker_laughs = listener_laughs = episodes = 0
    k = 0
    while k < len(lg):
        j = k
        while j + 1 < len(lg) and lg[j + 1][1] - lg[k][1] < 1.0:
            j += 1
        s0 = lg[k][1]
        before = [p for p, s, e, _ in tr if e <= s0 + 0.05]
        if before:
            spk = before[-1]
            who = {lg[m][0] for m in range(k, j + 1)}
            speaker_laughs += spk in who
            listener_laughs += len(who - {spk})
            episodes += 1
        k = j + 1
    assert episodes > 10
    per_listener = listener_laughs / (episodes * (tape.n - 1))
    assert speaker_laughs / episodes > 2.0 * per_listener, (speaker_laughs, listener_laughs, episodes)


def test_face_layer_adds_question_brows_and_laughter_only_when_cued():
    fb = FaceBehaviour(3, seed=1)
    z = np.zeros(3)
    rest = fb.step(0.0, z, z, None, z, z)
    q = np.array([0.0, 1.0, 0.0])
    lifted = fb.step(0.02, z, z, None, q, z)
    from xrdemo.core.expressions import INDEX
    bi = INDEX["brow_inner_up"]
    assert lifted[1, bi] - rest[1, bi] > 0.45 and abs(lifted[0, bi] - rest[0, bi]) < 0.05
    laugh = np.array([1.0, 0.0, 0.0])
    jaws = [fb.step(0.04 + k / 60, z, z, None, z, laugh)[0, INDEX["jaw_open"]] for k in range(30)]
    assert max(jaws) - min(jaws) > 0.3                       # bursts, not a held jaw
    out = fb.step(0.6, z, z, None, z, laugh)
    assert out[0, INDEX["smile_left"]] > 0.6 and out[1, INDEX["smile_left"]] < 0.1
