"""scripts/build_corpus.py: licences from Debian copyright files, duplicates, the hold-out
split and an atomic rebuild, on a fake package tree (no download)."""

import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import helpers

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus():
    return helpers.load_script("scripts/build_corpus.py")


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake

Files: *
Copyright: 2020 Packager <p@example.org>
License: GPL-2+

Files: 16.04/river_by_Ann.jpg
Copyright: Ann Example, 2018
License: CC-BY-4.0

Files: nature/*
Copyright: 2008, Bob Example
           2009, Carol Example
License: CC-BY-SA-3.0
Comment: a comment

Files: examples/*
Copyright: 2016 Dan Example
License: GPL-3+
 This program is free software: you can redistribute it and/or modify
 it under the terms of the GNU General Public License.
"""


def test_licences_follow_the_last_matching_files_paragraph(corpus):
    paragraphs = corpus.parse_copyright(COPYRIGHT)
    # A licence given with its text in the Files paragraph is recorded by name only.
    assert [p[1] for p in paragraphs] == ["GPL-2+", "CC-BY-4.0", "CC-BY-SA-3.0", "GPL-3+"]
    assert paragraphs[2][2] == "2008, Bob Example 2009, Carol Example"
    # Source-tree patterns match the installed path's end, or a named file by its name.
    assert corpus.licence_of("usr/share/backgrounds/river_by_Ann.jpg", paragraphs) == ("CC-BY-4.0", "Ann Example, 2018")
    assert corpus.licence_of("usr/share/backgrounds/mate/nature/Dune.jpg", paragraphs)[0] == "CC-BY-SA-3.0"
    assert corpus.licence_of("usr/share/other/thing.jpg", paragraphs)[0] == "GPL-2+"
    assert corpus.licence_of("x.jpg", []) == ("", "")


def test_kde_puzzle_and_wallpaper_metadata_name_the_photographer(corpus, tmp_path):
    puzzle = tmp_path / "collection" / "lizard.jpg"
    puzzle.parent.mkdir()
    puzzle.write_bytes(b"")
    puzzle.with_suffix(".desktop").write_text(
        "[Desktop Entry]\nName=Lizard\nX-KDE-PluginInfo-Author=B. Example and others\n"
        "X-KDE-PluginInfo-Website=http://example.org/lizard\nX-KDE-PluginInfo-License=GNU-FDL\n")
    assert corpus._kde_metadata(puzzle) == ("GNU-FDL", "B. Example and others (http://example.org/lizard)")
    wallpaper = tmp_path / "Path" / "contents" / "images" / "1x1.jpg"
    wallpaper.parent.mkdir(parents=True)
    wallpaper.write_bytes(b"")
    (tmp_path / "Path" / "metadata.json").write_text(
        '{"KPlugin": {"Authors": [{"Name": "Ann"}], "License": "CC-BY-SA-4.0"}}')
    assert corpus._kde_metadata(wallpaper) == ("CC-BY-SA-4.0", "Ann")
    assert corpus._kde_metadata(tmp_path / "plain.jpg") is None


def test_one_key_per_picture_and_near_duplicates_share_a_hash(corpus):
    assert corpus._group_key("sway-backgrounds", "usr/a/Sway_Blue_1920x1080.png") == \
        corpus._group_key("sway-backgrounds", "usr/a/Sway_Blue_768x1024_Portrait.png")
    assert corpus._group_key("plasma-workspace-wallpapers", "usr/share/wallpapers/Path/contents/images/1x1.jpg") \
        == "plasma-workspace-wallpapers:Path"
    a = Image.fromarray(helpers.photo(300, 200, seed=0))
    def bits(x, y):
        return bin(corpus.dhash(x) ^ corpus.dhash(y)).count("1")

    assert bits(a, a.resize((150, 100))) <= corpus.DUPLICATE_BITS
    assert bits(a, Image.fromarray(helpers.painting(300, 200))) > 3 * corpus.DUPLICATE_BITS
    assert bits(Image.fromarray(_picture(1)), Image.fromarray(_picture(2))) > 3 * corpus.DUPLICATE_BITS


def _picture(seed: int, w: int = 400, h: int = 400) -> np.ndarray:
    """A distinct picture per seed (coarse random blocks, resized smoothly)."""
    coarse = np.random.default_rng(seed).uniform(0, 255, (6, 6, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC))


def _fake_package(cache: Path, package: str, pictures: dict) -> None:
    root = cache / "x" / f"{package}_1.0_all"
    (root / "usr/share/doc" / package).mkdir(parents=True)
    (root / "usr/share/doc" / package / "copyright").write_text(COPYRIGHT)
    for rel, array in pictures.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(root / rel)
    (cache / f"{package}_1.0_all.deb").write_bytes(b"")  # "downloaded": no apt-get


def test_build_writes_photos_a_holdout_and_a_manifest_atomically(corpus, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    photos = {f"usr/share/backgrounds/mate/nature/p{i}.jpg": _picture(i, 400 + 8 * i) for i in range(24)}
    photos["usr/share/backgrounds/mate/nature/copy.jpg"] = _picture(3, 424)[::2, ::2]  # p3 again, smaller
    photos["usr/share/backgrounds/mate/nature/logo.jpg"] = helpers.painting(400, 400)
    photos["usr/share/backgrounds/mate/nature/tiny.jpg"] = helpers.photo(100, 80)
    _fake_package(cache, "fakewall", photos)
    monkeypatch.setattr(corpus, "DEBIAN", {"fakewall": ("usr/share/backgrounds/mate/nature/*",)})
    monkeypatch.setattr(corpus, "WHEELS", {})
    monkeypatch.setattr(corpus, "NOT_PHOTOS", frozenset({"fakewall:logo"}))
    # A sample package whose copyright file does not name its pictures: PACKAGE_LICENCES does.
    _fake_package(cache, "fakesample", {f"usr/share/doc/fakesample/examples/s{i}.jpg": _picture(40 + i, 400)
                                        for i in range(2)})
    monkeypatch.setattr(corpus, "SAMPLES", {"fakesample": ("usr/share/doc/fakesample/examples/*.jpg",)})
    monkeypatch.setattr(corpus, "PACKAGE_LICENCES", {"fakesample": ("Apache-2.0", "S. Example")})
    out = tmp_path / "corpus"
    rows = corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None, sources="wallpapers")

    names = {r["file"] for r in rows}
    assert len(rows) == 24  # one copy of p3, no logo, no tiny picture
    assert not any("logo" in n or "tiny" in n for n in names)
    holdout = [r for r in rows if r["split"] == "holdout"]
    assert 0 < len(holdout) < 8 and all((out / r["file"]).exists() for r in rows)
    for r in rows:
        with Image.open(out / r["file"]) as image:
            assert max(image.size) <= 256 and image.size == (r["width"], r["height"])
        assert r["licence"] == "CC-BY-SA-3.0" and r["source"] == "fakewall" and r["version"] == "1.0"
    with open(out / "MANIFEST.csv") as f:
        assert [dict(r, width=int(r["width"]), height=int(r["height"])) for r in csv.DictReader(f)] == rows
    # The split is fixed by the names: a rebuild puts every photo where it was, and the sample
    # packages add their photos without moving the others.
    with_samples = corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None, sources="debian")
    assert [r for r in with_samples if r["source"] == "fakewall"] == rows
    added = [r for r in with_samples if r["source"] == "fakesample"]
    assert len(added) == 2 and all((r["licence"], r["copyright"]) == ("Apache-2.0", "S. Example") for r in added)
    # An Ubuntu package adds its photos and moves none: its copy of a Debian photo (p5, sorted
    # before "fakewall") is the one dropped as a duplicate. A licence without a holder takes
    # the photographer from the file name.
    _fake_package(cache, "afakeubuntu", {"usr/share/backgrounds/Lake_by_Ann_Example.jpg": _picture(50, 400),
                                         "usr/share/backgrounds/p5_again.jpg": _picture(5, 440)})
    (cache / "x/afakeubuntu_1.0_all/usr/share/doc/afakeubuntu/copyright").write_text(
        "Files: *\nCopyright: 2020 Packager\nLicense: GPL-2+\n\nFiles: Lake_by_Ann_Example.jpg\nLicense: CC0\n")
    monkeypatch.setattr(corpus, "UBUNTU", {"afakeubuntu": ("usr/share/backgrounds/*",)})
    everything = corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None)
    assert [r for r in everything if r["source"] != "afakeubuntu"] == with_samples
    assert [(r["path"], r["licence"], r["copyright"]) for r in everything if r["source"] == "afakeubuntu"] == [
        ("usr/share/backgrounds/Lake_by_Ann_Example.jpg", "CC0", "Ann Example (from the file name)")]
    assert corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None, sources="wallpapers") == rows
    with pytest.raises(ValueError, match="sources must be one of .* got 'ubuntu'"):
        corpus.build(out, cache, sources="ubuntu")

    # A rebuild that fails half-way leaves the previous corpus whole and no temporary folder.
    def broken(image):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus, "dhash", broken)
    with pytest.raises(KeyboardInterrupt):
        corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "corpus"]
    assert len(list((out / "train").iterdir())) + len(list((out / "holdout").iterdir())) == 24


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="needs dpkg-deb (Debian-like systems)")
def test_ubuntu_packages_come_through_a_package_index_of_their_own_checked_with_ubuntus_key(
        corpus, tmp_path, monkeypatch):
    """No network: a fake ``apt-get`` records its calls and hands out real ``.deb`` files."""
    debs, cache, log = tmp_path / "debs", tmp_path / "cache", tmp_path / "apt.log"
    for package, rel in (("ubuntu-keyring", "usr/share/keyrings/ubuntu-archive-keyring.gpg"),
                         ("ubuntu-wallpapers-a", "usr/share/backgrounds/A_by_Ann.jpg"),
                         ("ubuntu-wallpapers-b", "usr/share/backgrounds/B_by_Bob.jpg")):
        tree = tmp_path / "trees" / package
        (tree / "DEBIAN").mkdir(parents=True)
        (tree / "DEBIAN/control").write_text(f"Package: {package}\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: t <t@example.org>\nDescription: test\n")
        (tree / rel).parent.mkdir(parents=True)
        (tree / rel).write_bytes(b"key" if rel.endswith(".gpg") else b"jpeg")
        debs.mkdir(exist_ok=True)
        subprocess.run(["dpkg-deb", "--build", str(tree), str(debs / f"{package}_1.0_all.deb")], check=True,
                       capture_output=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(f"""#!/bin/sh
echo "$*" >> {log}
for a in "$@"; do
  case "$a" in -oDir::State::Lists=*) lists="${{a#*=}}";; -oDir::Etc::SourceList=*) src="${{a#*=}}";; esac
  last="$a"
done
case " $* " in
  *" update "*) cat "$src" >> {log}; touch "$lists/archive_Packages";;
  *" download "*) cp {debs}/"$last"_1.0_all.deb .;;
esac
""")
    (bin_dir / "apt-get").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    cache.mkdir()

    root, version = corpus.fetch_debian("ubuntu-wallpapers-a", cache, "ubuntu")
    assert version == "1.0" and (root / "usr/share/backgrounds/A_by_Ann.jpg").read_bytes() == b"jpeg"
    corpus.fetch_debian("ubuntu-wallpapers-b", cache, "ubuntu")
    corpus.fetch_debian("ubuntu-wallpapers-a", cache, "ubuntu")  # cached: no apt-get at all
    calls = log.read_text().splitlines()
    keyring = cache / "x/ubuntu-keyring_1.0_all/usr/share/keyrings/ubuntu-archive-keyring.gpg"
    # Ubuntu's key comes from Debian's archive, checked with Debian's key; each index is
    # updated once; every call keeps to its own state, never the system's.
    assert [c.split()[-2:] for c in calls if not c.startswith("deb ")] == [
        ["update", "-q"], ["-q", "ubuntu-keyring"], ["update", "-q"], ["-q", "ubuntu-wallpapers-a"],
        ["-q", "ubuntu-wallpapers-b"]]
    assert [c for c in calls if c.startswith("deb ")] == [
        f"deb [signed-by={corpus.DEBIAN_KEYRING}] {corpus.DEBIAN_ARCHIVE} trixie main",
        f"deb [signed-by={keyring}] {corpus.UBUNTU_ARCHIVE} noble main universe"]
    assert all("-oDir::Etc::SourceList=" in c and "-oDir::State::status=/dev/null" in c
               for c in calls if not c.startswith("deb "))
