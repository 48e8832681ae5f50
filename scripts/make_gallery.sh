#!/usr/bin/env bash
# Regenerate the pictures of docs/GALLERY.md into examples/gallery/.
#
#   bash scripts/make_gallery.sh            # from anywhere inside the repository
#
# Every command below is the exact one quoted in docs/GALLERY.md. Each one's wall time
# is appended to examples/gallery/timings.txt ("seconds<TAB>command"), and its --json
# summary goes to examples/gallery/<name>.json. The default backbone, vgg19, runs from the
# quantized ImageNet copy shipped with tf-style when Keras' file is not cached, so no
# download is needed. Sizes are kept small (256 px tiles, short pyramids) so the whole
# gallery takes minutes on a CPU. FULL=1 also remakes the 512 px sweep behind the
# defaults (about 10 minutes more).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=examples/gallery
IMG=examples/images
mkdir -p "$OUT"
if command -v tf-style >/dev/null 2>&1; then TFS=(tf-style); else TFS=(python3 -m tf_style); fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

TIMINGS="$OUT/timings.txt"
: > "$TIMINGS"

# run NAME ARGS...: run tf-style ARGS --json --quiet, keep its JSON and its wall time.
run() {
    local name=$1; shift
    local start end
    echo "+ tf-style $*" >&2
    start=$(date +%s.%N)
    "${TFS[@]}" "$@" --json --quiet > "$OUT/$name.json"
    end=$(date +%s.%N)
    printf '%s\ttf-style %s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')" "$*" \
        | tee -a "$TIMINGS" >&2
}

COMMON=(--size 256 --pyramid 2 --iterations 40)

# 1. alpha/beta sweep: photo-like (left) to painting-like (right).
run sweep_tubingen_starry sweep "$IMG/tubingen.jpg" "$IMG/starry_night.jpg" \
    -o "$OUT/sweep_tubingen_starry.jpg" "${COMMON[@]}"

# 2. Gatys et al.'s Fig. 1 style reconstructions: style only, from noise, conv1_1 ... conv1_1..conv5_1.
#    Adam: L-BFGS-B stops after ~16 evaluations from noise once conv3_1 is in the set.
run layers_starry sweep "$IMG/tubingen.jpg" "$IMG/starry_night.jpg" \
    -o "$OUT/layers_starry.jpg" --ratios 0 --layers gatys --init noise --optimizer adam --learning-rate 8 \
    --size 128 --pyramid 1 --iterations 60

# 3. A sheet: the cat in two styles, originals on top.
run sheet_chelsea sheet "$IMG/chelsea.png" "$IMG/starry_night.jpg" "$IMG/the_scream.jpg" \
    -o "$OUT/sheet_chelsea.jpg" "${COMMON[@]}"

# 4. One stylize run and its loss curves, with tf-style stylize's defaults.
#    At the default size and settings (512 px, 200 evaluations): at 256 px The Scream's
#    bands are so large against the picture that they wash the town out.
run stylize_tubingen_scream stylize "$IMG/tubingen.jpg" "$IMG/the_scream.jpg" \
    -o "$OUT/tubingen_scream.jpg" --plot "$OUT/loss_tubingen_scream.png"

# 5. The sweep behind the defaults: 512 px, the output size of tf-style stylize.
if [ "${FULL:-0}" = 1 ]; then
    run sweep_defaults_512 sweep "$IMG/tubingen.jpg" "$IMG/starry_night.jpg" \
        -o "$OUT/sweep_defaults_512.jpg" --size 512 --ratios 0.3,0.1,0.03,0.01 --iterations 100
fi

echo "total: $(awk -F'\t' '{s += $1} END {printf "%.1f", s}' "$TIMINGS") s" | tee -a "$TIMINGS" >&2
