#!/usr/bin/env bash
# Measures the studio's CPU use under Xvfb + lavapipe (software rendering): 20 s playing the
# default 8 fps SynthMotion clip, then 20 s paused (Pause clicked with xdotool), as % of one core
# (process utime+stime over wall time). Screenshots of both states go next to the results.
# Needs: Xvfb, xdotool, bc, ffmpeg (x11grab). A developer tool, not part of the test suite.
# Usage: scripts/measure-studio-cpu.sh [BINARY] [OUT_DIR]
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/triggerlab/target}/debug/triggerlab}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
disp=:$((90 + RANDOM % 9))
Xvfb "$disp" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xpid=$!
trap 'kill $xpid 2>/dev/null || true' EXIT
sleep 1
export DISPLAY=$disp
VK_ICD_FILENAMES=$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json | head -n 1)
export VK_ICD_FILENAMES
"$bin" 2>"$out/stderr.log" &
pid=$!
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
share() { # seconds: CPU share over that long, in % of one core
  local t0 s0 t1 s1
  t0=$(ticks); s0=$(date +%s.%N); sleep "$1"; t1=$(ticks); s1=$(date +%s.%N)
  echo "($t1-$t0)/$hz/($s1-$s0)*100" | bc -l
}
sleep 8 # startup: the library is made, the clip starts playing
playing=$(share 20)
ffmpeg -loglevel error -y -f x11grab -video_size 1280x800 -i "$disp" -frames:v 1 "$out/playing.png"
win=$(xdotool search --name TriggerLab | head -n 1)
xdotool mousemove --window "$win" 124 628 click 1 # the timeline's Pause button
sleep 3
paused=$(share 20)
ffmpeg -loglevel error -y -f x11grab -video_size 1280x800 -i "$disp" -frames:v 1 "$out/paused.png"
kill "$pid"
printf 'playing: %.1f %% of one core; paused: %.1f %% (screenshots in %s)\n' "$playing" "$paused" "$out"
