"""scripts/build_corpus.py: licences from Debian copyright files, duplicates, the hold-out
split and an atomic rebuild, on a fake package tree (no download)."""

import csv
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
    rows = corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None, samples=False)

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
    with_samples = corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None)
    assert [r for r in with_samples if r["source"] == "fakewall"] == rows
    added = [r for r in with_samples if r["source"] == "fakesample"]
    assert len(added) == 2 and all((r["licence"], r["copyright"]) == ("Apache-2.0", "S. Example") for r in added)
    assert corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None, samples=False) == rows

    # A rebuild that fails half-way leaves the previous corpus whole and no temporary folder.
    def broken(image):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus, "dhash", broken)
    with pytest.raises(KeyboardInterrupt):
        corpus.build(out, cache, max_side=256, min_side=200, log=lambda *a: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "corpus"]
    assert len(list((out / "train").iterdir())) + len(list((out / "holdout").iterdir())) == 24
