#!/usr/bin/env bash
# Runs the whole test suite. With no display, it runs under Xvfb with Mesa's software Vulkan
# driver (lavapipe), so wgpu finds an adapter and the real-window tests run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
# setup.sh has fetched the sample clips; tests that use them must not skip here.
export TRIGGERLAB_REQUIRE_SAMPLES=1
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  exec cargo test --locked "$@"
fi
lvp=$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json 2>/dev/null | head -n 1 || true)
if [[ -z "$lvp" ]]; then
  echo "test.sh: lavapipe (mesa-vulkan-drivers) is missing; run scripts/setup.sh" >&2
  exit 1
fi
export VK_ICD_FILENAMES="$lvp" TRIGGERLAB_REQUIRE_DISPLAY=1
exec xvfb-run --auto-servernum --server-args="-screen 0 1600x1000x24" cargo test --locked "$@"
