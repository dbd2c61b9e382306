"""Fingerprint command lines and matching, without ffmpeg."""

from __future__ import annotations

import random

from evidock.daemon.derivatives import fingerprint
from evidock.daemon.ledger.fingerprints import band_keys, indexed


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_key_frames_only_or_four_frames_a_second_as_raw_128px_rgb_on_stdout():
    key = fingerprint.frames_args("in.mp4", keyframes=True)
    assert ("nokey", "rawvideo") == (option(key, "-skip_frame"), option(key, "-f"))
    assert "pipe:" in key
    assert key.index("-skip_frame") < key.index("-i")  # an input option: decoder skips
    assert "fps" not in option(key, "-filter_complex")
    full = fingerprint.frames_args("in.mp4", keyframes=False)
    graph = option(full, "-filter_complex")
    assert "-skip_frame" not in full and "w=128" in graph and "showinfo" in graph
    # the first frame of each quarter second at its own time, not fps's last one of a second
    assert "select=isnan(prev_selected_t)+gt(floor(t/0.25)\\,floor(prev_selected_t/0.25))" \
        in graph and "fps=" not in graph


def test_frame_times_come_from_showinfo():
    err = ("[Parsed_showinfo_3 @ 0x1] n:   0 pts:      0 pts_time:0       duration:1\n"
           "[Parsed_showinfo_3 @ 0x1] n:   1 pts:  15360 pts_time:1.2     duration:1\n")
    assert [0.0, 1.2] == fingerprint.frame_times(err)


def test_key_frames_are_sparse_when_any_gap_exceeds_one_and_a_half_seconds():
    assert not fingerprint.sparse([0, 1, 2, 3], 4.0)
    assert fingerprint.sparse([0, 10], 20.0)
    assert fingerprint.sparse([0, 1, 2], 10.0)  # none after 2 s
    assert fingerprint.sparse([], 3.0)


def _hash(rng) -> str:
    return f"{rng.getrandbits(256):064x}"


def _flip(h: str, bits: int, rng) -> str:
    value = int(h, 16)
    for b in rng.sample(range(256), bits):
        value ^= 1 << b
    return f"{value:064x}"


def test_a_trimmed_noisy_copy_matches_with_its_time_range_and_an_unrelated_one_does_not():
    rng = random.Random(7)
    original = [[float(t), _hash(rng)] for t in range(30)]
    copy = [[t - 10.0, _flip(h, 20, rng)] for t, h in original[10:20]]  # seconds 10..19
    found = fingerprint.match(copy, original)
    assert found is not None and 1.0 == found.score
    assert [{"start": 0.0, "end": 9.0, "other_start": 10.0, "other_end": 19.0}] == found.ranges
    other = [[float(t), _hash(rng)] for t in range(30)]
    assert fingerprint.match(other, original) is None


def test_the_score_counts_seconds_so_a_copy_sampled_four_times_a_second_scores_alike():
    rng = random.Random(11)
    original = [[float(t), _hash(rng)] for t in range(20)]  # key frames, one a second
    copy = []  # seconds 5..9 at four a second: one frame near each of the original's
    for t, h in original[5:10]:
        copy += [[t - 5.0 + q / 4, _flip(h, 10, rng) if q == 0 else _hash(rng)]
                 for q in range(4)]
    for query, other in ((copy, original), (original, copy)):
        found = fingerprint.match(query, other)
        assert found is not None and 1.0 == found.score and 5 == found.matched
    unrelated = [[q / 4, _hash(rng)] for q in range(20)]
    assert fingerprint.match(unrelated, original) is None


def test_band_keys_cut_the_hash_into_16_bands_and_a_still_scene_is_indexed_once():
    h = "00" * 30 + "abcd"
    keys = band_keys(h)
    assert 16 == len(keys) and 0xabcd == keys[0] and (15 << 16) == keys[15]
    rng = random.Random(3)
    a = _hash(rng)
    still = [[0.0, a], [1.0, _flip(a, 4, rng)], [2.0, _flip(a, 6, rng)], [3.0, _hash(rng)]]
    assert [0.0, 3.0] == [t for t, _ in indexed(still)]
