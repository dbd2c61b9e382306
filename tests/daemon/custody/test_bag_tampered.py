"""A tampered bag: each change is named by `evidock export verify` (exit 10), and the manual
procedure in the bag's VERIFY.txt, run with standard tools only, passes on the bag as
exported and fails on the tampered one."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess

import bagit
import blake3
import pytest

from evidock.daemon.errors import ExitCode
from tests.daemon.custody.test_access_and_export import approved


@pytest.fixture
def bag(station):
    rid = approved(station, media=("1", "2"))
    path = station.tmp / "bag"
    code, _, err = station("export", "C-1", "--request", rid, "--to", str(path), "--as", "AR1")
    assert 0 == code, err
    return path


def manual_blocks(bag) -> list[str]:
    """The shell blocks of VERIFY.txt (indented five spaces), as a person would paste them."""
    blocks, current = [], []
    for line in (bag / "VERIFY.txt").read_text().splitlines():
        if line.startswith("     "):
            current.append(line[5:])
        elif current:
            blocks.append("\n".join(current))
            current = []
    return blocks


def run_manual(bag) -> list[subprocess.CompletedProcess]:
    return [subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=bag,
                           capture_output=True, text=True) for block in manual_blocks(bag)]


def rebag(path) -> None:
    """What a careful forger does after editing payload: new manifests, new BLAKE3 list."""
    b = bagit.Bag(str(path))
    b.save(manifests=True)
    lines = []
    for line in (path / "blake3-manifest.txt").read_text().splitlines():
        rel = line.split("  ", 1)[1]
        lines.append(f"{blake3.blake3((path / rel).read_bytes()).hexdigest()}  {rel}\n")
    (path / "blake3-manifest.txt").write_text("".join(lines))
    bagit.Bag(str(path)).save(manifests=False)


def test_the_manual_procedure_passes_on_the_bag_as_exported(bag):
    results = run_manual(bag)
    assert 5 == len(results)
    assert [0] * len(results) == [r.returncode for r in results], [
        (r.args[-1][:60], r.stdout, r.stderr) for r in results if r.returncode]
    assert any("chain OK up to the head" in r.stdout for r in results)


def _one_byte(bag):
    original = next((bag / "data" / "originals").iterdir())
    original.chmod(0o644)
    data = bytearray(original.read_bytes())
    data[100] ^= 1
    original.write_bytes(bytes(data))
    return f"data/originals/{original.name}"


def _manifest_line(bag):
    manifest = bag / "manifest-sha256.txt"
    lines = manifest.read_text().splitlines()
    digest, rel = lines[0].split("  ", 1)
    lines[0] = f"{'0' * 64}  {rel}"
    manifest.write_text("\n".join(lines) + "\n")
    return "manifest-sha256.txt"


def _deleted(bag):
    (bag / "data" / "premis" / "1.json").unlink()
    return "data/premis/1.json"


def _added(bag):
    (bag / "data" / "originals" / "9-extra.mp4").write_bytes(b"planted")
    return "data/originals/9-extra.mp4"


def _proof_rewritten(bag):
    """An entry of the proof edited (its officer changed), hashes.txt and the manifests
    recomputed so that bagit alone finds nothing."""
    proof = bag / "data" / "ledger-proof"
    victim = next(p for p in sorted((proof / "events").iterdir())
                  if b'"media_seen"' in p.read_bytes())
    victim.write_bytes(victim.read_bytes().replace(b"110001", b"999999")
                       if b"110001" in victim.read_bytes()
                       else victim.read_bytes().replace(b'DSJ-001', b'DSJ-666'))
    lines = [f"{hashlib.sha256((proof / n).read_bytes()).hexdigest()}  {n}"
             for n in (line.split("  ", 1)[1] for line in
                       (proof / "hashes.txt").read_text().splitlines())]
    (proof / "hashes.txt").write_text("\n".join(lines) + "\n")
    rebag(bag)
    return "does not chain"


@pytest.mark.parametrize("tamper, named", [
    (_one_byte, "data/originals/"), (_manifest_line, "manifest-sha256.txt"),
    (_deleted, "data/premis/1.json"), (_added, "data/originals/9-extra.mp4"),
    (_proof_rewritten, "does not chain"),
], ids=["one-byte", "manifest-line", "deleted-file", "added-file", "proof-rewritten"])
def test_a_tampered_bag_is_named_and_fails(station, bag, tamper, named):
    tamper(bag)
    code, _, err = station("export", "verify", str(bag))
    assert ExitCode.EXPORT_INVALID == code
    assert "NOT as exported" in err and named in err, err
    assert any(r.returncode for r in run_manual(bag))


def test_a_proof_rewritten_and_rechained_is_caught_against_the_stations_ledger(station, bag):
    """A forger who recomputes every later hash too makes a self-consistent bag; the
    station's ledger (and a time stamp, see test_timestamps) still tells."""
    proof = bag / "data" / "ledger-proof"
    files = sorted((proof / "events").iterdir())
    prev = None
    for path in files:
        entry = json.loads(path.read_bytes())
        if prev is not None:
            entry[6] = prev
        if entry[3] == "media_seen":
            entry[5] = entry[5].replace("REC0", "REC9")
        body = json.dumps(entry, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()
        path.write_bytes(body)
        prev = hashlib.sha256(body).hexdigest()
    (proof / "hashes.txt").write_text("".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  events/{p.name}\n" for p in files))
    head = json.loads((proof / "head.json").read_text())
    head["hash"] = prev
    (proof / "head.json").write_text(json.dumps(head, indent=2, sort_keys=True) + "\n")
    rebag(bag)
    code, _, err = station("export", "verify", str(bag), "--no-ledger")
    assert 0 == code, err  # consistent in itself: no ledger, no time stamp, nothing to tell
    code, _, err = station("export", "verify", str(bag))
    assert ExitCode.EXPORT_INVALID == code
    assert re.search(r"ledger: entry \d+ of the proof is not the station's entry", err), err


def test_a_folder_that_is_not_a_bag_is_named(station, tmp_path):
    code, _, err = station("export", "verify", str(tmp_path))
    assert (ExitCode.EXPORT_INVALID, True) == (code, "is not a bag" in err)


def test_an_export_never_writes_into_a_folder_that_has_files(station):
    rid = approved(station)
    target = station.tmp / "full"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    code, _, err = station("export", "C-1", "--request", rid, "--to", str(target), "--as", "AR1")
    assert (ExitCode.FAILED, True) == (code, "is not an empty folder" in err)
    assert ["keep.txt"] == [p.name for p in target.iterdir()]
    shutil.rmtree(target)
